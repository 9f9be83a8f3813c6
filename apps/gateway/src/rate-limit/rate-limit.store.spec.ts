import { randomUUID } from 'node:crypto';
import { mainConnectionReady } from '../../../../test/support/redis';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { RateLimitStore } from './rate-limit.store';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe.each([
  ['in memory', {}],
  ['in Redis', { REDIS_URL, REDIS_KEY_PREFIX: `test-rl-${randomUUID()}:` }],
])('RateLimitStore %s', (_where, env: Record<string, string>) => {
  let redis: RedisService;
  let store: RateLimitStore;

  beforeAll(async () => {
    const config = AppConfig.fromEnv({ NODE_ENV: 'test', ...env });
    redis = new RedisService(config);
    store = new RateLimitStore(redis, config);
    // Commands fail fast (and limits fail open) until the connection is up.
    await mainConnectionReady(redis);
  });

  afterAll(async () => {
    store.onModuleDestroy();
    await redis.onApplicationShutdown();
  });

  it('counts a request against each window in turn and stops at the first one over its limit', async () => {
    const windows = [
      { key: `burst-${randomUUID()}`, ttlMs: 60_000, limit: 2 },
      { key: `minute-${randomUUID()}`, ttlMs: 60_000, limit: 10 },
    ];
    const calls = [];
    for (let i = 0; i < 4; i++) calls.push(await store.hitWindows(windows, 1));
    expect(calls.map((hits) => hits.map((h) => h.totalHits))).toEqual([[1, 1], [2, 2], [3], [4]]);
    expect(calls.map((hits) => hits.at(-1)!.isBlocked)).toEqual([false, false, true, true]);
    // A refused request is not counted against the windows after the one that refused it.
    expect((await store.hitWindows(windows.slice(1), 5))[0].totalHits).toBe(7);
    expect(calls[3][0].timeToExpire).toBeGreaterThan(50);
  });
});
