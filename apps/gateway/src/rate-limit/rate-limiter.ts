import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { MetricsService } from '../observability/metrics.service';
import { RateLimitStore } from './rate-limit.store';

/** The same limits as the HTTP guard, for traffic that does not pass through it (WebSocket messages). */
@Injectable()
export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async consume(tracker: string, scope: string, cost = 1): Promise<void> {
    for (const { name, ttl_ms, limit } of this.config.rateLimit.limits) {
      const hit = await this.store.increment(`${scope}:${tracker}:${name}`, ttl_ms, limit, 0, name, cost);
      if (hit.isBlocked) {
        this.metrics.rateLimited.inc({ limit: name, transport: scope });
        throw new AppException(
          ErrorCode.RATE_LIMITED,
          `rate limit "${name}" exceeded: ${limit} per ${ttl_ms} ms`,
          hit.timeToExpire,
        );
      }
    }
  }
}
