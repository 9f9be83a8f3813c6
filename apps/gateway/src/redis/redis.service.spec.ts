import { randomUUID } from 'node:crypto';
import { eventually } from '../../../../test/support/clients';
import { connectionNames } from '../../../../test/support/redis';
import { AppConfig } from '../config/app-config';
import { RedisService } from './redis.service';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RedisService', () => {
  it('names its connections after the key prefix, so that deployments sharing a Redis tell theirs apart', async () => {
    const id = randomUUID();
    const redis = new RedisService(AppConfig.fromEnv({ REDIS_URL, REDIS_KEY_PREFIX: `staging ${id}:` }));
    try {
      const blocking = redis.duplicate('follow:0', { blocking: true });
      // A name may not hold spaces: CLIENT SETNAME would refuse it, and the connection with it.
      const mine = [`staging_${id}:main`, `staging_${id}:follow:0`];
      const allNamed = async () => {
        const all = await connectionNames(blocking);
        return mine.every((name) => all.includes(name));
      };
      expect(await eventually(allNamed)).toBe(true);
    } finally {
      await redis.onApplicationShutdown();
    }
  });
});
