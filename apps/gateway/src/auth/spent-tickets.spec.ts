import { randomUUID } from 'node:crypto';
import { mainConnectionReady } from '../../../../test/support/redis';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { SpentTickets } from './spent-tickets';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const inAMinute = () => Date.now() + 60_000;

describe('SpentTickets', () => {
  const redisServices: RedisService[] = [];
  const replica = (env: Record<string, string> = {}) => {
    const redis = new RedisService(AppConfig.fromEnv(env));
    redisServices.push(redis);
    return { redis, spent: new SpentTickets(redis) };
  };
  afterAll(() => Promise.all(redisServices.map((redis) => redis.onApplicationShutdown())));

  it('without Redis, lets each ticket be spent once in the process', async () => {
    const { spent } = replica();
    const [first, second] = [randomUUID(), randomUUID()];
    expect(await spent.claim(first, inAMinute())).toBe(true);
    expect(await spent.claim(first, inAMinute())).toBe(false);
    expect(await spent.claim(second, inAMinute())).toBe(true);
  });

  it('with Redis, once across replicas, remembered only until the ticket expires', async () => {
    const env = { REDIS_URL, REDIS_KEY_PREFIX: `spent-${randomUUID()}:` };
    const [a, b] = [replica(env), replica(env)];
    await Promise.all([mainConnectionReady(a.redis), mainConnectionReady(b.redis)]);
    const ticket = randomUUID();
    expect(await a.spent.claim(ticket, inAMinute())).toBe(true);
    expect(await b.spent.claim(ticket, inAMinute())).toBe(false);
    expect(await a.spent.claim(ticket, inAMinute())).toBe(false);
    const ttlMs = await a.redis.client!.pttl(a.redis.key('ticket', ticket));
    expect(ttlMs).toBeGreaterThan(55_000);
    expect(ttlMs).toBeLessThanOrEqual(60_000);
  });

  it('while Redis cannot be reached, still once per replica, without an error', async () => {
    const { spent } = replica({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_KEY_PREFIX: `spent-${randomUUID()}:` });
    const ticket = randomUUID();
    expect(await spent.claim(ticket, inAMinute())).toBe(true);
    expect(await spent.claim(ticket, inAMinute())).toBe(false);
  });
});
