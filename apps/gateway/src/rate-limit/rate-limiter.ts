import { Injectable } from '@nestjs/common';
import { AppConfig, type RateLimitConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { MetricsService } from '../observability/metrics.service';
import { RateLimitStore, type WindowHit } from './rate-limit.store';

export type RateLimitWindow = RateLimitConfig['limits'][number];

/** Counts requests against every configured limit: for the HTTP guard and for WebSocket messages. */
@Injectable()
export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** For traffic that does not pass through the HTTP guard (WebSocket messages). */
  consume(tracker: string, transport: string, cost = 1): Promise<void> {
    return this.count((name) => `${transport}:${tracker}:${name}`, transport, cost);
  }

  /**
   * Counts `cost` against each limit under `keyOf(limit name)`, showing each window's count to
   * `onCount` (the HTTP guard's RateLimit headers), and throws 429 RATE_LIMITED at the first one
   * exceeded.
   */
  async count(
    keyOf: (name: string) => string,
    transport: string,
    cost: number,
    onCount?: (window: RateLimitWindow, hit: WindowHit) => void,
  ): Promise<void> {
    for (const window of this.config.rateLimit.limits) {
      const { name, ttl_ms, limit } = window;
      const hit = await this.store.increment(keyOf(name), ttl_ms, limit, 0, name, cost);
      onCount?.(window, hit);
      if (hit.isBlocked) {
        this.metrics.rateLimited.inc({ limit: name, transport });
        throw new AppException(
          ErrorCode.RATE_LIMITED,
          `rate limit "${name}" exceeded: ${limit} per ${ttl_ms} ms`,
          hit.timeToExpire,
        );
      }
    }
  }
}
