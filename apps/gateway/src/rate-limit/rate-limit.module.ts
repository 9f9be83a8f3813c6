import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimitStore } from './rate-limit.store';
import { RateLimiter } from './rate-limiter';

@Global()
@Module({
  providers: [RateLimitStore],
  exports: [RateLimitStore],
})
class RateLimitStoreModule {}

/** Global rate limits, before authentication: by JWT subject (the guard checks the token), else by IP. */
@Global()
@Module({
  imports: [
    RateLimitStoreModule,
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, RateLimitStore],
      useFactory: (config: AppConfig, store: RateLimitStore) => ({
        throttlers: config.rateLimit.limits.map((l) => ({ name: l.name, ttl: l.ttl_ms, limit: l.limit })),
        storage: store,
      }),
    }),
  ],
  providers: [RateLimiter, { provide: APP_GUARD, useClass: RateLimitGuard }],
  exports: [RateLimiter],
})
export class RateLimitModule {}
