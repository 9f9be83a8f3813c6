import { THROTTLER_LIMIT, THROTTLER_SKIP, THROTTLER_TTL } from '@nestjs/throttler/dist/throttler.constants';
import type { Reflector } from '@nestjs/core';
import type { RateLimitWindow } from './rate-limiter';

const OVERRIDES = [THROTTLER_LIMIT, THROTTLER_TTL, THROTTLER_SKIP];

/**
 * The configured windows as a route changes them with @nestjs/throttler's own decorators:
 * `@Throttle({ minute: { limit: 10, ttl: 60_000 } })` sets a window's limit or length for the route,
 * `@SkipThrottle({ second: true })` leaves a window out (`@NoRateLimit()` leaves out all). A name
 * RATE_LIMITS does not define, or a value that is not a number, is a mistake in the code: refused
 * rather than ignored.
 */
export function routeWindows(
  reflector: Reflector,
  windows: readonly RateLimitWindow[],
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- Nest's own type for handlers and controllers
  targets: Function[],
): RateLimitWindow[] {
  const read = (key: string): unknown => reflector.getAllAndOverride<unknown>(key, targets);
  const where = targets.map((t) => t.name).join(' of ');
  const known = new Set(windows.map((w) => w.name));
  for (const target of targets) {
    for (const key of Reflect.getMetadataKeys(target) as unknown[]) {
      const prefix = typeof key === 'string' ? OVERRIDES.find((p) => key.startsWith(p)) : undefined;
      const name = prefix && (key as string).slice(prefix.length);
      if (name !== undefined && !known.has(name) && Reflect.getMetadata(key, target) !== undefined) {
        throw new Error(`rate limit "${name}" set on ${where} is not in RATE_LIMITS (${[...known].join(', ')})`);
      }
    }
  }
  const numberOr = (key: string, fallback: number): number => {
    const value = read(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new Error(`${key} on ${where} must be a positive whole number (a ${typeof value} was given)`);
    }
    return value;
  };
  return windows
    .filter(({ name }) => read(THROTTLER_SKIP + name) !== true)
    .map(({ name, limit, ttl_ms }) => ({
      name,
      limit: numberOr(THROTTLER_LIMIT + name, limit),
      ttl_ms: numberOr(THROTTLER_TTL + name, ttl_ms),
    }));
}
