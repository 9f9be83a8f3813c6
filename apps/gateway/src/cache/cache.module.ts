import KeyvRedis from '@keyv/redis';
import { CacheModule as NestCacheModule } from '@nestjs/cache-manager';
import { Global, Logger, Module } from '@nestjs/common';
import { Keyv } from 'keyv';
import { AppConfig } from '../config/app-config';
import { AnswerCache } from './answer-cache';
import { inProcessTier } from './in-process-lru';
import { AnswerCacheInterceptor } from './answer-cache.interceptor';

/**
 * Keyv's Redis store, for a cache that must never wait on a Redis that is away. Keyv connects a closed
 * client inside the lookup, so while Redis was down one lookup every reconnect cycle (2 s) waited out
 * the command timeout. Here a lookup while the client is not ready is a miss at once, and connecting
 * happens in the background: at start, and again whenever a lookup finds the client given up on.
 * Shutting down closes without the polite QUIT.
 */
class ForcefulKeyvRedis extends KeyvRedis<unknown> {
  private connecting: Promise<unknown> | undefined;

  connectInBackground(): void {
    this.connecting ??= this.getClient()
      .catch(() => undefined) // reported through the 'error' event
      .finally(() => (this.connecting = undefined));
  }

  override async get<U = unknown>(key: string): Promise<U | undefined> {
    // A single-node client (ours) says whether it is ready; anything else is asked as before.
    if ((this.client as { isReady?: boolean }).isReady !== false) return super.get<U>(key);
    this.connectInBackground();
    return undefined;
  }

  override disconnect(): Promise<void> {
    return super.disconnect(true);
  }
}

/** L1: a bounded in-process LRU. L2: Redis (shared by every replica) when REDIS_URL is set. */
function stores(config: AppConfig): Keyv[] {
  const logger = new Logger('AnswerCache');
  const l1 = inProcessTier(config.cache);
  if (!config.redis.url) return [l1];
  const redisStore = new ForcefulKeyvRedis(
    {
      url: config.redis.url,
      // While Redis is away commands fail at once instead of queueing (and growing) until it returns.
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
    },
    { throwOnConnectError: false, throwOnErrors: false, connectionTimeout: 2000 },
  );
  // The namespace goes on Keyv, which sets it on its store: one given to the store alone was replaced by
  // Keyv's default ("keyv"), and deployments sharing a Redis under different prefixes shared answers.
  const l2 = new Keyv({ store: redisStore, namespace: `${config.redis.keyPrefix}cache`, useKeyPrefix: false });
  // An unhandled 'error' event would end the process; a cache outage must only cost hits.
  l2.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis cache error'));
  redisStore.on('error', () => undefined);
  redisStore.connectInBackground();
  return [l1, l2];
}

@Global()
@Module({
  imports: [
    NestCacheModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({ stores: stores(config) }),
    }),
  ],
  providers: [AnswerCache, AnswerCacheInterceptor],
  exports: [AnswerCache, AnswerCacheInterceptor],
})
export class CacheModule {}
