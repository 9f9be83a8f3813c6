import { RetryBudget, backoffMs } from './retry-policy';

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
