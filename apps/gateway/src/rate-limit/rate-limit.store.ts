import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
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

/** INCRBY a fixed window and start its expiry on the first hit: one atomic round trip. */
const REDIS_HIT = `
local hits = redis.call('INCRBY', KEYS[1], ARGV[1])
if hits == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
return {hits, ttl}`;

const SWEEP_INTERVAL_MS = 10_000;

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
  private warned = false;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  get trackedKeys(): number {
    return this.windows.size;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    _block: number,
    _name: string,
    cost = 1,
  ): Promise<WindowHit> {
    const { hits, ttlMs } = this.redis.enabled ? await this.hitRedis(key, ttl, cost) : this.hitMemory(key, ttl, cost);
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
    return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > limit, timeToBlockExpire: seconds };
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private hitMemory(key: string, ttl: number, cost: number): { hits: number; ttlMs: number } {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (!window && this.windows.size >= this.config.rateLimit.maxKeys) this.evictOldest();
      window = { hits: 0, resetAt: now + ttl };
      this.windows.set(key, window);
    }
    window.hits += cost;
    return { hits: window.hits, ttlMs: window.resetAt - now };
  }

  private async hitRedis(key: string, ttl: number, cost: number): Promise<{ hits: number; ttlMs: number }> {
    try {
      const [hits, ttlMs] = (await this.redis.client!.eval(REDIS_HIT, 1, this.redis.key('rl', key), cost, ttl)) as [
        number,
        number,
      ];
      return { hits, ttlMs };
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        this.logger.warn(
          { err: (error as Error).message, fail_open: this.config.rateLimit.failOpen },
          'rate limits unavailable',
        );
        setTimeout(() => (this.warned = false), 10_000).unref();
      }
      if (this.config.rateLimit.failOpen) return { hits: 0, ttlMs: ttl };
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
