import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { mainConnectionReady } from '../../../../test/support/redis';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { StreamQuota } from './stream-quota';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function quotaOn(env: Record<string, string>): Promise<{ quota: StreamQuota; redis: RedisService }> {
  const config = AppConfig.fromEnv({ NODE_ENV: 'test', MAX_STREAMS_PER_USER: '2', ...env });
  const redis = new RedisService(config);
  if (env.REDIS_URL === REDIS_URL) await mainConnectionReady(redis);
  return { quota: new StreamQuota(redis, config), redis };
}

const refusal = { code: 'TOO_MANY_STREAMS' };

describe('StreamQuota', () => {
  it('drops the slots of a replica that died with streams open once they expire', async () => {
    const prefix = `test-quota-${randomUUID()}:`;
    const { quota, redis } = await quotaOn({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    const raw = new Redis(REDIS_URL);
    try {
      // Two slots another replica took and never gave back: one expired, one not.
      await raw.zadd(`${prefix}streams:alice`, Date.now() - 1, 'dead-run', Date.now() + 60_000, 'live-run');
      await quota.acquire('alice', 'a');
      await expect(quota.acquire('alice', 'b')).rejects.toMatchObject(refusal);
    } finally {
      raw.disconnect();
      await redis.onApplicationShutdown();
    }
  });

  it("gives back, with the user's next stream, a slot Redis was away for when its stream ended", async () => {
    const prefix = `test-quota-${randomUUID()}:`;
    const { quota, redis } = await quotaOn({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    const client = redis.client!;
    try {
      await quota.acquire('carol', 'a');
      await quota.acquire('carol', 'b');
      const away = new Promise((ended) => client.once('end', ended));
      client.disconnect(); // Redis is away when 'a' ends
      await away;
      quota.release('carol', 'a');
      await new Promise((settled) => setImmediate(settled));
      await client.connect();
      await quota.acquire('carol', 'c');
      expect(await client.zrange(`${prefix}streams:carol`, 0, -1)).toEqual(['b', 'c']);
    } finally {
      await redis.onApplicationShutdown();
    }
  });

  it('still bounds streams per replica when Redis cannot be reached', async () => {
    const { quota, redis } = await quotaOn({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_COMMAND_TIMEOUT_MS: '100' });
    try {
      await quota.acquire('bob', 'a');
      await quota.acquire('bob', 'b');
      await expect(quota.acquire('bob', 'c')).rejects.toMatchObject(refusal);
      quota.release('bob', 'a');
      await quota.acquire('bob', 'd');
      await expect(quota.acquire('bob', 'e')).rejects.toMatchObject(refusal);
    } finally {
      await redis.onApplicationShutdown();
    }
  });
});
