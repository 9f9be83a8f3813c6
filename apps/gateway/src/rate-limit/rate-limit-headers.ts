import type { RateLimitWindow } from './rate-limiter';
import type { WindowHit } from './rate-limit.store';

/** Where the headers go: a Fastify reply, or the headers of a WebSocket upgrade's answer. */
export interface HeaderTarget {
  header(name: string, value: string | number): unknown;
}

/** RateLimit-Policy (IETF draft): every configured window, counted or not. Configuration: made once. */
export function rateLimitPolicy(windows: readonly RateLimitWindow[]): string {
  return windows.map(({ name, limit, ttl_ms }) => `${limit};w=${Math.round(ttl_ms / 1000)};name="${name}"`).join(', ');
}

/**
 * RateLimit-* (IETF draft) once a request is counted: Limit, Remaining and Reset of the tightest
 * window counted (`hits[i]` is `windows[i]`'s; the windows after one exceeded are not counted), and
 * the policy.
 */
export function showRateLimit(
  headers: HeaderTarget,
  policy: string,
  windows: readonly RateLimitWindow[],
  hits: readonly WindowHit[],
): void {
  let tightest = 0;
  let least = Infinity;
  for (let i = 0; i < hits.length; i++) {
    const remaining = Math.max(0, windows[i].limit - hits[i].totalHits);
    if (remaining < least) {
      least = remaining;
      tightest = i;
    }
  }
  headers.header('ratelimit-limit', windows[tightest].limit);
  headers.header('ratelimit-remaining', least);
  headers.header('ratelimit-reset', hits[tightest].timeToExpire);
  headers.header('ratelimit-policy', policy);
}
