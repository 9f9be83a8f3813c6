import { hash } from 'node:crypto';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { CancelSignal } from '../common/cancel-signal';
import { throttledWarning } from '../common/throttled-warning';
import { AppConfig } from '../config/app-config';
import type { AgentDefinition } from '../config/env.schema';
import { MetricsService } from '../observability/metrics.service';

/** A run of whitespace, or whitespace other than a plain space: what normalising a question folds. */
const WHITESPACE_TO_FOLD = /\s{2,}|[^\S ]/;
/** Text that Unicode normalisation could change: ASCII is always in NFC already. */
const NON_ASCII = /[\u0080-\uffff]/;

const NO_CACHE = /\bno-cache\b/i;
const NO_STORE = /\bno-store\b/i;

/** What the cache may do for a request: look up and store, store a fresh answer only, or neither. */
export type CacheUse = 'lookup' | 'refresh' | 'none';

/** `Cache-Control: no-store` keeps the cache out; `no-cache` skips the lookup, and the fresh answer is stored. */
export function cacheUseOf(cacheControl = ''): CacheUse {
  if (NO_STORE.test(cacheControl)) return 'none';
  return NO_CACHE.test(cacheControl) ? 'refresh' : 'lookup';
}

/** A miss being answered for every caller of its key that is still there. */
interface SharedLoad<T> {
  promise: Promise<T>;
  callers: number;
  signal: CancelSignal;
}

export interface CacheableQuery {
  agent: AgentDefinition;
  userId: string;
  query: string;
  options: Record<string, unknown>;
}

/**
 * Answers cached in two tiers (in-process LRU, then Redis when configured). Lookups are bounded by
 * the Redis command timeout and errors count as misses: the cache can make a request faster, never
 * fail or hang it. Identical misses in flight at once share one agent call.
 */
@Injectable()
export class AnswerCache {
  private readonly logger = new Logger(AnswerCache.name);
  private readonly inFlight = new Map<string, SharedLoad<unknown>>();
  private readonly versions = new Map<string, string>();

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    for (const agent of config.agents) {
      this.versions.set(agent.id, hash('sha256', JSON.stringify(agent), 'hex').slice(0, 16));
    }
  }

  /**
   * The agent whose answer to a query may be cached: one with a TTL, for a query outside a session (an
   * answer in a session depends on its history).
   */
  cacheableAgent(agentId: unknown, sessionId: unknown): AgentDefinition | undefined {
    if (sessionId !== undefined) return undefined;
    const agent = this.config.agents.find((a) => a.id === agentId);
    return agent && agent.cache.ttl_ms > 0 ? agent : undefined;
  }

  /** One key per agent version, normalised question and options, and caller (unless shareable). */
  keyFor({ agent, userId, query, options }: CacheableQuery): string {
    // Most questions are ASCII with no whitespace to fold: testing is cheaper than normalising or replacing.
    const trimmed = (NON_ASCII.test(query) ? query.normalize('NFC') : query).trim();
    const normalised = WHITESPACE_TO_FOLD.test(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
    const keys = Object.keys(options);
    const sortedOptions = keys.length === 0 ? '[]' : JSON.stringify(keys.sort().map((k) => [k, String(options[k])]));
    const who = agent.cache.shareable ? '*' : userId;
    // Fields joined by NUL, which neither hex nor JSON text contains raw: only the question, last,
    // is free text. (Cheaper than serializing an array; every cache hit takes this path.)
    const digest = hash(
      'sha256',
      `${this.versions.get(agent.id)}\0${JSON.stringify(who)}\0${sortedOptions}\0${normalised}`,
      'base64url',
    );
    return `answer:${agent.id}:${digest}`;
  }

  /**
   * The cached answer's JSON text, when `use` lets the cache be looked in and it holds one; every lookup
   * is counted by its result (hit, miss, or bypass for `no-cache`). For the query route and batch items.
   */
  async lookup(key: string, agentId: string, use: CacheUse): Promise<string | undefined> {
    const hit = use === 'lookup' ? await this.get(key) : undefined;
    const result = hit !== undefined ? 'hit' : use === 'lookup' ? 'miss' : 'bypass';
    this.metrics.cacheLookups.inc({ agent: agentId, result });
    return hit;
  }

  /**
   * The answer's JSON text, as stored: a hit is sent without serializing it again. Anything else
   * found under the key (an entry written in another format) is a miss. An answer found in Redis
   * is kept in process for the rest of its life, so this replica's next hit skips Redis.
   */
  async get(key: string): Promise<string | undefined> {
    const [local, shared] = this.cache.stores;
    try {
      const hit = await local.get<unknown>(key);
      if (typeof hit === 'string') return hit;
      if (!shared) return undefined;
      const entry = await this.bounded(shared.get<unknown>(key, { raw: true }));
      if (typeof entry?.value !== 'string') return undefined;
      const lifeLeft = typeof entry.expires === 'number' ? entry.expires - Date.now() : 0;
      if (lifeLeft > 0) await local.set(key, entry.value, lifeLeft);
      return entry.value;
    } catch (error) {
      this.warn(error);
      return undefined;
    }
  }

  /**
   * Stores the answer as JSON text, unless it is larger than one entry may be, and returns that
   * text: the response sends it as is instead of serializing the answer a second time.
   */
  set(key: string, answer: unknown, ttlMs: number): string {
    const text = JSON.stringify(answer);
    if (Buffer.byteLength(text) <= this.config.cache.maxEntryBytes) {
      this.bounded(this.cache.set(key, text, ttlMs)).catch((e: unknown) => this.warn(e));
    }
    return text;
  }

  /**
   * Runs `load` once for all concurrent callers of the same key. Its `signal` is cancelled only once
   * every caller has left (each tells through `onCallerLeft`), not when the one who started it does;
   * a caller arriving after that starts a new load.
   */
  coalesce<T>(
    key: string,
    load: (signal: CancelSignal) => Promise<T>,
    onCallerLeft: (listener: () => void) => void,
  ): Promise<T> {
    let shared = this.inFlight.get(key) as SharedLoad<T> | undefined;
    if (!shared) {
      const started: SharedLoad<T> = { callers: 0, signal: new CancelSignal(), promise: undefined! };
      started.promise = load(started.signal).finally(() => this.forget(key, started));
      this.inFlight.set(key, (shared = started));
    }
    const joined = shared;
    joined.callers++;
    onCallerLeft(() => {
      if (--joined.callers > 0) return;
      this.forget(key, joined);
      joined.signal.cancel();
    });
    return joined.promise;
  }

  private forget(key: string, load: SharedLoad<unknown>): void {
    if (this.inFlight.get(key) === load) this.inFlight.delete(key);
  }

  /** Bounded by the Redis command timeout; without Redis the cache is in-process and cannot hang: no timer. */
  private bounded<T>(operation: Promise<T>): Promise<T> {
    return this.config.redis.url ? withTimeout(operation, this.config.redis.commandTimeoutMs) : operation;
  }

  private readonly degraded = throttledWarning(this.logger, 'answer cache degraded to a miss');

  private warn(error: unknown): void {
    this.degraded({ err: (error as Error)?.message });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cache did not answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
