import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { TargetBreaker, isOpenCircuitError } from './target-breaker';

const unavailable = () => Promise.reject(Object.assign(new Error('down'), { code: status.UNAVAILABLE }));

describe('TargetBreaker', () => {
  let breaker: TargetBreaker;
  const states: string[] = [];
  beforeEach(() => {
    states.length = 0;
    breaker = new TargetBreaker(
      'a',
      't',
      { error_threshold_percentage: 50, rolling_window_ms: 10_000, volume_threshold: 2, reset_timeout_ms: 100 },
      (_agent, _target, state) => states.push(state),
    );
  });
  afterEach(() => breaker.shutdown());

  it('opens after the volume of backend failures and refuses without calling the agent', async () => {
    await expect(breaker.fire(unavailable)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    await expect(breaker.fire(unavailable)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(breaker.state).toBe('open');
    const attempt = jest.fn(() => Promise.resolve('answer'));
    const refused = await breaker.fire(attempt).catch((e: unknown) => e);
    expect(isOpenCircuitError(refused)).toBe(true);
    expect(attempt).not.toHaveBeenCalled();
    expect(states).toEqual(['open']);
  });

  it('lets one probe through once half-open, refuses the others meanwhile, and closes on its success', async () => {
    await breaker.fire(unavailable).catch(() => undefined);
    await breaker.fire(unavailable).catch(() => undefined);
    await sleep(150);
    expect(breaker.state).toBe('half-open');
    let answer: (value: string) => void = () => undefined;
    const probe = breaker.fire(() => new Promise<string>((resolve) => (answer = resolve)));
    const second = await breaker.fire(() => Promise.resolve('second')).catch((e: unknown) => e);
    expect(isOpenCircuitError(second)).toBe(true);
    answer('probe');
    await expect(probe).resolves.toBe('probe');
    expect(breaker.state).toBe('closed');
    await expect(breaker.fire(() => Promise.resolve('again'))).resolves.toBe('again');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it("judges a failure without sorting the window's latencies: its cost does not grow with the traffic", async () => {
    // opossum re-reads its window on every failure; with its latency percentiles on, that sorted every
    // call's latency in the window (3 ms per failure at 4,000 calls a second), just when an agent fails.
    for (let i = 0; i < 2_000; i++) await breaker.fire(() => Promise.resolve('ok'));
    const sort = jest.spyOn(Array.prototype, 'sort');
    try {
      await breaker.fire(unavailable).catch(() => undefined);
      const sorted = sort.mock.contexts.map((array) => (array as unknown[]).length);
      expect(Math.max(0, ...sorted)).toBeLessThan(100);
    } finally {
      sort.mockRestore();
    }
    expect(breaker.state).toBe('closed');
  });

  it('counts only calls the agent got: refusals while open do not dilute the error rate after a recovery', async () => {
    await breaker.fire(unavailable).catch(() => undefined);
    await breaker.fire(unavailable).catch(() => undefined);
    for (let i = 0; i < 100; i++) await breaker.fire(() => Promise.resolve('refused')).catch(() => undefined);
    await sleep(150);
    await expect(breaker.fire(() => Promise.resolve('probe'))).resolves.toBe('probe');
    expect(breaker.state).toBe('closed');
    // Failing again: 4 of the 5 calls in the window failed, so it opens (with 100 refusals counted, 4 of 105 would not).
    await breaker.fire(unavailable).catch(() => undefined);
    await breaker.fire(unavailable).catch(() => undefined);
    expect(breaker.state).toBe('open');
  });

  it('does not count what is not the agent’s fault', async () => {
    const invalid = () => Promise.reject(Object.assign(new Error('bad'), { code: status.INVALID_ARGUMENT }));
    for (let i = 0; i < 5; i++) await breaker.fire(invalid).catch(() => undefined);
    expect(breaker.state).toBe('closed');
  });
});
