import { createCache, type Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import { AppConfig } from '../config/app-config';
import { CancelSignal } from '../common/cancel-signal';
import type { MetricsService } from '../observability/metrics.service';
import { AnswerCache } from './answer-cache';
import { inProcessTier, type InProcessLru } from './in-process-lru';

const config = AppConfig.fromEnv({
  AGENTS: JSON.stringify([
    { id: 'rag', targets: ['127.0.0.1:50051'], cache: { ttl_ms: 1000 } },
    { id: 'docs', targets: ['127.0.0.1:50051'], cache: { ttl_ms: 1000, shareable: true } },
  ]),
});
const [agent, shared] = config.agents;
const cache = new AnswerCache({} as Cache, config, {} as MetricsService);
const key = (query: string, options: Record<string, unknown> = {}, userId = 'alice', on = agent) =>
  cache.keyFor({ agent: on, userId, query, options });

describe('AnswerCache.keyFor', () => {
  it('is the same for the same question written with other spacing, and options in another order', () => {
    expect(key('  how are  tokens\n verified?\t')).toBe(key('how are tokens verified?'));
    expect(key('q', { b: 2, a: 1 })).toBe(key('q', { a: 1, b: 2 }));
  });

  it('is the same for the same accented question in composed and decomposed Unicode', () => {
    expect(key('caf\u00e9 au lait?')).toBe(key('cafe\u0301 au lait?'));
    expect(key('caf\u00e9 au lait?')).not.toBe(key('cafe au lait?'));
  });

  it('differs by question, option value, caller and agent; not by caller when the agent is shareable', () => {
    const base = key('how are tokens verified?', { a: 1 });
    expect(key('how are tokens checked?', { a: 1 })).not.toBe(base);
    expect(key('how are tokens verified?', { a: 2 })).not.toBe(base);
    expect(key('how are tokens verified?', { a: 1 }, 'bob')).not.toBe(base);
    expect(key('how are tokens verified?', { a: 1 }, 'alice', shared)).not.toBe(base);
    expect(key('q', {}, 'alice', shared)).toBe(key('q', {}, 'bob', shared));
  });

  it('cannot be steered into another caller’s key through the free text of the question', () => {
    // The caller and options come before the question; a question cannot spell out another caller.
    expect(key('q', {}, 'alice\u0000[]')).not.toBe(key('[]\u0000q', {}, 'alice'));
    expect(key('[]\u0000q', {}, 'alice')).not.toBe(key('q', {}, 'alice'));
  });
});

describe('AnswerCache tiers', () => {
  // Two replicas, each with its own in-process tier, sharing a second tier (Redis in production;
  // Keyv's own store here, which keeps the same `{value, expires}` entries).
  const shared = new Keyv();
  const replica = () => {
    const local = inProcessTier(config.cache);
    return { local, cache: new AnswerCache(createCache({ stores: [local, shared] }), config, {} as MetricsService) };
  };
  const lruOf = (local: Keyv) => (local.opts.store as unknown as InProcessLru).lru;
  const answerKey = key('what is a circuit breaker?');

  it("keeps another replica's answer in process for the rest of its life, so the next hit skips Redis", async () => {
    const one = replica();
    const two = replica();
    one.cache.set(answerKey, { answer: 'it stops calls to a failing agent' }, 60_000);
    await new Promise((stored) => setImmediate(stored));

    const text = '{"answer":"it stops calls to a failing agent"}';
    expect(await two.cache.get(answerKey)).toBe(text);
    const lifeLeft = lruOf(two.local).getRemainingTTL(`keyv:${answerKey}`);
    expect(lifeLeft).toBeGreaterThan(50_000);
    expect(lifeLeft).toBeLessThanOrEqual(60_000);

    await shared.clear(); // Redis has lost it (or is away): this replica still answers
    expect(await two.cache.get(answerKey)).toBe(text);
  });
});

describe('AnswerCache.coalesce', () => {
  /** A caller of a shared load, who can leave. */
  const caller = () => {
    let leave = () => undefined as void;
    return { onLeft: (listener: () => void) => (leave = listener), leave: () => leave() };
  };
  /** A load that answers when told, and notes whether its signal was cancelled. */
  const pendingLoad = () => {
    const load = { calls: 0, cancelled: 0, answer: (_text: string) => undefined as void };
    const start = (signal: CancelSignal) => {
      load.calls++;
      signal.onCancel(() => load.cancelled++);
      return new Promise<string>((resolve) => (load.answer = resolve));
    };
    return { load, start };
  };

  it('makes one call for concurrent callers, cancelled only when the last of them leaves', async () => {
    const { load, start } = pendingLoad();
    const [a, b] = [caller(), caller()];
    const answers = [cache.coalesce('k1', start, a.onLeft), cache.coalesce('k1', start, b.onLeft)];
    a.leave();
    expect(load).toMatchObject({ calls: 1, cancelled: 0 });
    load.answer('42');
    expect(await Promise.all(answers)).toEqual(['42', '42']);
    const c = caller();
    void cache.coalesce('k2', start, c.onLeft);
    c.leave();
    expect(load).toMatchObject({ calls: 2, cancelled: 1 });
  });

  it('starts a new call for a caller who comes after everyone left the previous one', async () => {
    const { load, start } = pendingLoad();
    const gone = caller();
    void cache.coalesce('k3', start, gone.onLeft);
    gone.leave();
    const fresh = cache.coalesce('k3', start, caller().onLeft);
    expect(load).toMatchObject({ calls: 2, cancelled: 1 });
    load.answer('new');
    expect(await fresh).toBe('new');
  });
});
