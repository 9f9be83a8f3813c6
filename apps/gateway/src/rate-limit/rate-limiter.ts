import { Injectable } from '@nestjs/common';
import { AppConfig, type RateLimitConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { MetricsService } from '../observability/metrics.service';
import { rateLimitPolicy, showRateLimit, type HeaderTarget } from './rate-limit-headers';
import { RateLimitStore } from './rate-limit.store';

export type RateLimitWindow = RateLimitConfig['limits'][number];

/** Whom a request counts against, on every transport: its user with a valid token, else its IP. */
export function trackerOf(userId: string | undefined, ip?: string): string {
  return userId ? `user:${userId}` : `ip:${ip}`;
}

/** Counts requests against every configured limit: for the HTTP guard and for WebSocket messages. */
@Injectable()
export class RateLimiter {
  private readonly policy: string;

  constructor(
    private readonly store: RateLimitStore,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.policy = rateLimitPolicy(config.rateLimit.limits);
  }

  /** For traffic that does not pass through the HTTP guard (WebSocket upgrades and messages). */
  consume(tracker: string, transport: string, cost = 1, headers?: HeaderTarget): Promise<void> {
    return this.count((name) => `${transport}:${tracker}:${name}`, transport, cost, headers);
  }

  /**
   * Counts `cost` against each limit under `keyOf(limit name)`, in one round trip with Redis,
   * setting the RateLimit headers on `headers` if given, and throws 429 RATE_LIMITED at the first
   * one exceeded (the limits after it are not counted).
   */
  async count(keyOf: (name: string) => string, transport: string, cost: number, headers?: HeaderTarget): Promise<void> {
    const windows = this.config.rateLimit.limits;
    const hits = await this.store.hitWindows(
      windows.map(({ name, ttl_ms, limit }) => ({ key: keyOf(name), ttlMs: ttl_ms, limit })),
      cost,
    );
    if (headers) showRateLimit(headers, this.policy, windows, hits);
    const last = hits.at(-1);
    if (!last?.isBlocked) return;
    const { name, ttl_ms, limit } = windows[hits.length - 1];
    this.metrics.rateLimited.inc({ limit: name, transport });
    throw new AppException(
      ErrorCode.RATE_LIMITED,
      `rate limit "${name}" exceeded: ${limit} per ${ttl_ms} ms`,
      last.timeToExpire,
    );
  }
}
