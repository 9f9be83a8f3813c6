import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { throttledWarning } from '../common/throttled-warning';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { RedisService } from '../redis/redis.service';

export interface WindowHit {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/** One window to count a request against. */
export interface WindowCount {
  key: string;
  ttlMs: number;
  limit: number;
}

/**
 * Counts against each window in turn (INCRBY, its expiry started on the first hit), stopping at
 * the first one over its limit, like the in-memory path: every window in one atomic round trip.
 * KEYS: the windows; ARGV: the cost, then each window's ttl and limit. Returns hits and ttl pairs.
 */
const REDIS_HIT_WINDOWS = `
local cost = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[2 * i])
  local hits = redis.call('INCRBY', key, cost)
  if hits == cost then redis.call('PEXPIRE', key, ttl) end
  local left = redis.call('PTTL', key)
  if left < 0 then redis.call('PEXPIRE', key, ttl); left = ttl end
  out[#out + 1] = hits
  out[#out + 1] = left
  if hits > tonumber(ARGV[2 * i + 1]) then break end
end
return out`;

/** The script above as a command of the connection: sent by its SHA (EVALSHA), not its text each time. */
interface HitWindowsCommand {
  hitWindows(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
}

const SWEEP_INTERVAL_MS = 10_000;

interface Counted {
  hits: number;
  ttlMs: number;
}

/**
 * Fixed-window counters: in Redis when configured (so N per minute holds across replicas), else in
 * a bounded map swept by one timer (not one timer per request, the throttler's default store's
 * memory problem under load). `cost` lets a batch count as its number of items.
 */
@Injectable()
export class RateLimitStore implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger(RateLimitStore.name);
  private readonly windows = new Map<string, { hits: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly unavailable = throttledWarning(this.logger, 'rate limits unavailable');

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {
    redis.client?.defineCommand('hitWindows', { lua: REDIS_HIT_WINDOWS });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  get trackedKeys(): number {
    return this.windows.size;
  }

  /** ThrottlerStorage's single window, for the throttler module's contract; the limiter uses hitWindows. */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    _block: number,
    _name: string,
    cost = 1,
  ): Promise<WindowHit> {
    const [hit] = await this.hitWindows([{ key, ttlMs: ttl, limit }], cost);
    return hit;
  }

  /**
   * Counts `cost` against each window in order and stops at the first one over its limit (the
   * windows after it are not counted): one hit per window counted, the last blocked if any was.
   */
  async hitWindows(windows: WindowCount[], cost = 1): Promise<WindowHit[]> {
    const counted = this.redis.enabled ? await this.hitRedis(windows, cost) : this.hitMemory(windows, cost);
    return counted.map(({ hits, ttlMs }, i) => {
      const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
      return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > windows[i].limit, timeToBlockExpire: seconds };
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private hitMemory(windows: WindowCount[], cost: number): Counted[] {
    const now = Date.now();
    const counted: Counted[] = [];
    for (const { key, ttlMs, limit } of windows) {
      let window = this.windows.get(key);
      if (!window || window.resetAt <= now) {
        if (!window && this.windows.size >= this.config.rateLimit.maxKeys) this.evictOldest();
        window = { hits: 0, resetAt: now + ttlMs };
        this.windows.set(key, window);
      }
      window.hits += cost;
      counted.push({ hits: window.hits, ttlMs: window.resetAt - now });
      if (window.hits > limit) break;
    }
    return counted;
  }

  private async hitRedis(windows: WindowCount[], cost: number): Promise<Counted[]> {
    try {
      const args = windows.flatMap(({ ttlMs, limit }) => [ttlMs, limit]);
      const keys = windows.map(({ key }) => this.redis.key('rl', key));
      const flat = await (this.redis.client as unknown as HitWindowsCommand).hitWindows(
        keys.length,
        ...keys,
        cost,
        ...args,
      );
      const counted: Counted[] = [];
      for (let i = 0; i < flat.length; i += 2) counted.push({ hits: flat[i], ttlMs: flat[i + 1] });
      return counted;
    } catch (error) {
      this.unavailable({ err: (error as Error).message, fail_open: this.config.rateLimit.failOpen });
      if (this.config.rateLimit.failOpen) return windows.map(({ ttlMs }) => ({ hits: 0, ttlMs }));
      throw new AppException(ErrorCode.RATE_LIMIT_UNAVAILABLE, 'rate limits cannot be checked right now', 1);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }

  /** Maps iterate in insertion order: the first key is the oldest window. */
  private evictOldest(): void {
    const oldest = this.windows.keys().next();
    if (!oldest.done) this.windows.delete(oldest.value);
  }
}
