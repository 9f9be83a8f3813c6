import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { eventually } from '../../../../test/support/clients';
import { connectionNames, mainConnectionReady } from '../../../../test/support/redis';
import { CancelSignal } from '../common/cancel-signal';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { FEED_BLOCK_MS, FEED_CAPACITY } from './remote-run-feed';
import { RunMirror } from './run-mirror';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RunMirror, following runs of other replicas', () => {
  const prefix = `test-mirror-${randomUUID()}:`;
  const raw = new Redis(REDIS_URL);
  const config = AppConfig.fromEnv({ NODE_ENV: 'test', REDIS_URL, REDIS_KEY_PREFIX: prefix });
  const redis = new RedisService(config);
  const mirror = new RunMirror(redis, config);

  beforeAll(() => mainConnectionReady(redis));

  afterAll(async () => {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    await redis.onApplicationShutdown();
    raw.disconnect();
  });

  /** Connections open for following runs (one per feed), named after the key prefix. */
  const followConnections = async () =>
    (await connectionNames(raw)).filter((name) => name.startsWith(`${prefix}follow:`)).length;

  it('opens a connection per FEED_CAPACITY runs for a peak, and closes the extra ones after it', async () => {
    const runIds = Array.from({ length: FEED_CAPACITY + 1 }, () => randomUUID());
    await Promise.all(
      runIds.map((id) =>
        raw.set(`${prefix}run:${id}:meta`, JSON.stringify({ user_id: 'u', agent_id: 'a', session_id: null })),
      ),
    );
    const readers = runIds.map(() => new CancelSignal());
    const runs = await Promise.all(runIds.map((id, i) => mirror.follow(id, 'u', readers[i])));
    expect(runs.every((run) => run !== undefined)).toBe(true);
    expect(await eventually(async () => (await followConnections()) === 2)).toBe(true);

    // The readers leave: each feed's read ends within a read's time, and the one added for the peak goes.
    readers.forEach((r) => r.cancel());
    expect(await eventually(async () => (await followConnections()) === 1, 3 * FEED_BLOCK_MS)).toBe(true);

    // The first feed is still there for the next run followed.
    const next = randomUUID();
    await raw.set(`${prefix}run:${next}:meta`, JSON.stringify({ user_id: 'u', agent_id: 'a', session_id: null }));
    expect(await mirror.follow(next, 'u', new CancelSignal())).toBeDefined();
    expect(await followConnections()).toBe(1);
  });
});
