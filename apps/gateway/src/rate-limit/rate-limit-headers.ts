import type { RateLimitWindow } from './rate-limiter';
import type { WindowHit } from './rate-limit.store';

/** Where the headers go: a Fastify reply, or the headers of a WebSocket upgrade's answer. */
export interface HeaderTarget {
  get(name: string): string | number | undefined;
  set(name: string, value: string | number): void;
}

/**
 * RateLimit-* (IETF draft) as each window is counted: Limit, Remaining and Reset of the tightest
 * window so far, and every window in Policy.
 */
export function showRateLimit(headers: HeaderTarget, { name, limit, ttl_ms }: RateLimitWindow, hit: WindowHit): void {
  const remaining = Math.max(0, limit - hit.totalHits);
  const current = Number(headers.get('ratelimit-remaining') ?? Infinity);
  if (remaining < current) {
    headers.set('ratelimit-limit', limit);
    headers.set('ratelimit-remaining', remaining);
    headers.set('ratelimit-reset', hit.timeToExpire);
  }
  const policy = headers.get('ratelimit-policy');
  headers.set(
    'ratelimit-policy',
    `${policy ? `${String(policy)}, ` : ''}${limit};w=${Math.round(ttl_ms / 1000)};name="${name}"`,
  );
}
