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

/** The windows a request is counted against, and what follows from them: made once per route. */
export interface Limits {
  windows: readonly RateLimitWindow[];
  /** RateLimit-Policy. */
  policy: string;
  /** The window with the smallest limit: a request costing more could never be admitted. */
  narrowest: RateLimitWindow | undefined;
}

export function limitsOf(windows: readonly RateLimitWindow[]): Limits {
  return {
    windows,
    policy: rateLimitPolicy(windows),
    narrowest: windows.reduce<RateLimitWindow | undefined>((a, b) => (a && a.limit <= b.limit ? a : b), undefined),
  };
}

/** Counts requests against every configured limit: for the HTTP guard and for WebSocket messages. */
@Injectable()
export class RateLimiter {
  /** The configured windows, for every route that does not change them. */
  readonly defaults: Limits;

  constructor(
    private readonly store: RateLimitStore,
    config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.defaults = limitsOf(config.rateLimit.limits);
  }

  /** For traffic that does not pass through the HTTP guard (WebSocket upgrades and messages). */
  consume(tracker: string, transport: string, cost = 1, headers?: HeaderTarget): Promise<void> {
    return this.count((name) => `${transport}:${tracker}:${name}`, transport, cost, headers);
  }

  /**
   * Counts `cost` against each limit under `keyOf(limit name)`, in one round trip with Redis,
   * setting the RateLimit headers on `headers` if given, and throws 429 RATE_LIMITED at the first
   * one exceeded (the limits after it are not counted). A cost over the smallest limit is bad input,
   * not a reason to wait (Retry-After would never come true): it counts as one and gets a 400.
   */
  async count(
    keyOf: (name: string) => string,
    transport: string,
    cost: number,
    headers?: HeaderTarget,
    { windows, policy, narrowest }: Limits = this.defaults,
  ): Promise<void> {
    if (!narrowest) return; // a route exempt from every window
    const admissible = cost <= narrowest.limit;
    const hits = await this.store.hitWindows(
      windows.map(({ name, ttl_ms, limit }) => ({ key: keyOf(name), ttlMs: ttl_ms, limit })),
      admissible ? cost : 1,
    );
    if (headers) showRateLimit(headers, policy, windows, hits);
    if (!admissible) {
      const { name, ttl_ms, limit } = narrowest;
      throw new AppException(
        ErrorCode.VALIDATION_FAILED,
        `a batch of ${cost} items is over the rate limit "${name}" (${limit} per ${ttl_ms} ms) on its own: send at most ${limit} at once`,
      );
    }
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
