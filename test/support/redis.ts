import type Redis from 'ioredis';
import type { RedisService } from '../../apps/gateway/src/redis/redis.service';

/**
 * Resolves once the service's main connection is ready. It fails commands at once while it connects
 * (no offline queue, by design), so a test that starts sooner fails now and then.
 */
export async function mainConnectionReady(service: RedisService): Promise<void> {
  const client = service.client;
  if (client && client.status !== 'ready') await new Promise((ready) => client.once('ready', ready));
}

/** The connections Redis has open now (CLIENT LIST) that have a name, with their ids. */
async function namedConnections(redis: Redis): Promise<{ id: string; name: string }[]> {
  const list = (await redis.client('LIST')) as string;
  return [...list.matchAll(/\bid=(\d+) .* name=(\S+) /g)].map(([, id, name]) => ({ id, name }));
}

/** The names of the connections Redis has open now (CLIENT LIST), unnamed ones left out. */
export async function connectionNames(redis: Redis): Promise<string[]> {
  return (await namedConnections(redis)).map(({ name }) => name);
}

/** The id of the open connection with this name (for CLIENT KILL ID), if there is one. */
export async function connectionId(redis: Redis, name: string): Promise<string | undefined> {
  return (await namedConnections(redis)).find((c) => c.name === name)?.id;
}
