import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv } from 'keyv';
import type { CacheConfig } from '../config/app-config';
import { InProcessLru } from './in-process-lru';

const answer = (bytes: number) => JSON.stringify({ answer: 'x'.repeat(bytes) });

/** The L1 tier as the cache uses it: behind Keyv, entries kept as objects. */
function l1(config: CacheConfig, sweepIntervalMs?: number): { store: InProcessLru; keyv: Keyv } {
  const store = new InProcessLru(config, sweepIntervalMs);
  return { store, keyv: new Keyv({ store, serialize: undefined, deserialize: undefined }) };
}

describe('the in-process answer cache (L1)', () => {
  it('holds at most its byte budget however many answers are stored, dropping the least recently used', async () => {
    const { store, keyv } = l1({ maxEntries: 1000, maxEntryBytes: 20_000, maxBytes: 100_000 });
    for (let i = 0; i < 50; i++) await keyv.set(`k${i}`, answer(10_000), 60_000);
    expect(store.lru.calculatedSize).toBeLessThanOrEqual(100_000);
    expect(store.lru.size).toBeLessThan(10);
    expect(await keyv.get('k0')).toBeUndefined();
    expect(await keyv.get('k49')).toEqual(answer(10_000));
  });

  it('holds at most its entry count, and never an answer over the per-entry bound', async () => {
    const { store, keyv } = l1({ maxEntries: 3, maxEntryBytes: 1000, maxBytes: 1_000_000 });
    for (let i = 0; i < 5; i++) await keyv.set(`k${i}`, answer(10), 60_000);
    await keyv.set('big', answer(5000), 60_000);
    expect(store.lru.size).toBe(3);
    expect(await keyv.get('big')).toBeUndefined();
    expect(await keyv.get('k4')).toEqual(answer(10));
  });

  it('forgets an answer once its TTL has passed', async () => {
    const { keyv } = l1({ maxEntries: 10, maxEntryBytes: 1000, maxBytes: 1_000_000 });
    await keyv.set('k', answer(10), 50);
    expect(await keyv.get('k')).toEqual(answer(10));
    await sleep(80);
    expect(await keyv.get('k')).toBeUndefined();
  });

  it('drops expired answers without being asked for them, and stops sweeping when disconnected', async () => {
    const { store, keyv } = l1({ maxEntries: 10, maxEntryBytes: 1000, maxBytes: 1_000_000 }, 40);
    await keyv.set('short', answer(10), 20);
    await keyv.set('long', answer(10), 60_000);
    await sleep(120);
    expect(store.lru.size).toBe(1);
    expect(await keyv.get('long')).toEqual(answer(10));
    await keyv.disconnect();
    await keyv.set('short', answer(10), 20);
    await sleep(120);
    expect(store.lru.size).toBe(2); // no sweep any more: the stale entry stays until read
  });
});
