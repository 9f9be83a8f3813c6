import type Redis from 'ioredis';

/** The names of the connections Redis has open now (CLIENT LIST), unnamed ones left out. */
export async function connectionNames(redis: Redis): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return [...list.matchAll(/ name=(\S+) /g)].map((match) => match[1]);
}
