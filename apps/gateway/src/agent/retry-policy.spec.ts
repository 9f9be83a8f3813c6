import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RetryBudget, backoffMs } from './retry-policy';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

const config = {
  max_attempts: 3,
  base_backoff_ms: 100,
  max_backoff_ms: 1000,
  budget_percent: 20,
  min_retries_per_second: 0,
};

describe('RetryBudget', () => {
  it('allows retries up to the configured share of recent calls', () => {
    const now = 0;
    const budget = new RetryBudget(config, () => now);
    for (let i = 0; i < 50; i++) budget.recordCall();
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(10);
  });

  it('forgets calls and retries older than its window', () => {
    let now = 0;
    const budget = new RetryBudget(config, () => now);
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    now = 11_000;
    expect(budget.tryAcquire()).toBe(false); // no recent calls: nothing to retry on
    budget.recordCall();
    for (let i = 0; i < 4; i++) budget.recordCall();
    expect(budget.tryAcquire()).toBe(true);
  });

  it('counts the calls of the last ten seconds only, however many came before', () => {
    let now = 0;
    const budget = new RetryBudget(config, () => now);
    // An hour of a healthy agent at 100 calls a second: none of it may be held (or counted) later.
    for (; now < 3_600_000; now += 10) budget.recordCall();
    now += 20_000;
    for (let i = 0; i < 5; i++) budget.recordCall();
    expect(budget.tryAcquire()).toBe(true); // 20 % of 5
    expect(budget.tryAcquire()).toBe(false);
    now += 3_000;
    for (let i = 0; i < 5; i++) budget.recordCall();
    expect(budget.tryAcquire()).toBe(true); // 20 % of the 10 calls within the window, one already used
    expect(budget.tryAcquire()).toBe(false);
  });

  it('holds fixed memory however many calls it sees (a healthy agent never asks it for a retry)', () => {
    const budget = new RetryBudget(config);
    const before = heapAfterGc();
    for (let i = 0; i < 2_000_000; i++) budget.recordCall();
    const grown = heapAfterGc() - before;
    expect(budget.tryAcquire()).toBe(true); // still in use: what it holds was counted above
    expect(grown).toBeLessThan(4 * 2 ** 20); // a timestamp per call would be 16 MB
  });

  it('keeps a small floor so that a quiet agent can still retry', () => {
    const budget = new RetryBudget({ ...config, min_retries_per_second: 1 }, () => 0);
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(10);
  });
});

describe('backoffMs', () => {
  it('grows exponentially, with full jitter, up to the cap', () => {
    expect(backoffMs(config, 0, () => 0.999)).toBe(99);
    expect(backoffMs(config, 2, () => 0.999)).toBe(399);
    expect(backoffMs(config, 10, () => 0.999)).toBe(999);
    expect(backoffMs(config, 3, () => 0)).toBe(0);
  });
});
