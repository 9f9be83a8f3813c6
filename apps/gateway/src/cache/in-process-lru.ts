import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import type { CacheConfig } from '../config/app-config';

/** Answers are stored as JSON text (in Keyv's `{value, expires}` wrapper): measure the text as is. */
function sizeOf(entry: object): number {
  const value = (entry as { value?: unknown }).value;
  return Math.max(1, Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(entry)));
}

/**
 * The L1 store for Keyv: an LRU bounded in entries and in bytes (each entry measured once, when it is
 * stored). Keyv passes the TTL as a number; lru-cache takes it in an options object. Expired answers
 * are dropped by one sweep a minute, so memory follows the live entries, not the cap (lru-cache only
 * drops them when read or pushed out; its per-entry timer option costs a timer per answer).
 */
export class InProcessLru {
  readonly lru: LRUCache<string, object>;
  private readonly sweeper: NodeJS.Timeout;

  constructor(config: CacheConfig, sweepIntervalMs = 60_000) {
    this.lru = new LRUCache<string, object>({
      max: config.maxEntries,
      maxSize: config.maxBytes,
      maxEntrySize: config.maxEntryBytes,
      sizeCalculation: sizeOf,
    });
    this.sweeper = setInterval(() => this.lru.purgeStale(), sweepIntervalMs);
    this.sweeper.unref();
  }

  get(key: string): object | undefined {
    return this.lru.get(key);
  }

  set(key: string, value: object, ttlMs?: number): boolean {
    this.lru.set(key, value, { ttl: ttlMs });
    return true;
  }

  delete(key: string): boolean {
    return this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  /** Keyv calls this when the cache module is destroyed. */
  disconnect(): void {
    clearInterval(this.sweeper);
  }
}

/**
 * The cache's first tier. Answers are stored as JSON text; in process they are not wrapped in a
 * second serialization, and they sit in a plain LRU (cacheable's memory store hashed and cloned
 * every entry on every hit).
 */
export function inProcessTier(config: CacheConfig): Keyv {
  return new Keyv({ store: new InProcessLru(config), serialize: undefined, deserialize: undefined });
}
