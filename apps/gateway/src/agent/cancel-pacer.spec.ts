import { EventEmitter } from 'node:events';
import { collected } from '../../../../test/support/gc';
import { CancelPacer } from './cancel-pacer';

class FakeCall extends EventEmitter {
  cancelled = false;
  cancel(): void {
    this.cancelled = true;
  }
}

const calls = (n: number) => Array.from({ length: n }, () => new FakeCall());
const cancelledCount = (list: FakeCall[]) => list.filter((c) => c.cancelled).length;

describe('CancelPacer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('cancels a burst at once, then paces the rest at the configured rate', () => {
    const pending: number[] = [];
    const pacer = new CancelPacer({ burst: 3, per_second: 10 }, (n) => pending.push(n));
    const list = calls(8);
    list.forEach((c) => pacer.cancel(c));

    expect(cancelledCount(list)).toBe(3);
    expect(list.slice(3).every((c) => !c.cancelled)).toBe(true);
    expect(pacer.pending).toBe(5);

    jest.advanceTimersByTime(250); // 10/s: two more tokens by now
    expect(cancelledCount(list)).toBe(5);
    jest.advanceTimersByTime(300);
    expect(cancelledCount(list)).toBe(8);
    expect(pacer.pending).toBe(0);
    expect(pending.at(-1)).toBe(0);
  });

  it('keeps cancels in order and spends no turn on a call that ended meanwhile', () => {
    const pacer = new CancelPacer({ burst: 1, per_second: 10 });
    const [first, endedAlone, third] = calls(3);
    [first, endedAlone, third].forEach((c) => pacer.cancel(c));
    endedAlone.emit('status', { code: 4 }); // its deadline passed while it waited

    jest.advanceTimersByTime(100);
    expect(endedAlone.cancelled).toBe(false);
    expect(third.cancelled).toBe(true);
  });

  it('counts a call that ended by itself as no longer waiting at once', () => {
    const pending: number[] = [];
    const pacer = new CancelPacer({ burst: 1, per_second: 1 }, (n) => pending.push(n));
    const [, second, third] = calls(3).map((c) => (pacer.cancel(c), c));
    second.emit('status', { code: 0 });
    expect(pacer.pending).toBe(1);
    third.emit('status', { code: 4 });
    expect(pacer.pending).toBe(0);
    expect(pending).toEqual([1, 2, 1, 0]);
    expect(jest.getTimerCount()).toBe(0); // nothing left to pace
  });

  it('keeps no call it is done with alive: a waiting call holds its run, which can be large', async () => {
    const pacer = new CancelPacer({ burst: 1, per_second: 10 });
    const still = new FakeCall();
    const done = (() => {
      const [first, endedAlone, cancelledInTurn] = calls(3);
      [first, endedAlone, cancelledInTurn, still].forEach((c) => pacer.cancel(c));
      endedAlone.emit('status', { code: 0 });
      jest.advanceTimersByTime(100); // one turn: cancelledInTurn
      expect(cancelledInTurn.cancelled && !still.cancelled).toBe(true);
      return [first, endedAlone, cancelledInTurn].map((c) => new WeakRef(c));
    })();
    expect(await collected(done)).toEqual([true, true, true]);
    expect(pacer.pending).toBe(1);
  });

  it('refills up to the burst only, after a quiet period', () => {
    const pacer = new CancelPacer({ burst: 2, per_second: 100 });
    calls(2).forEach((c) => pacer.cancel(c));
    jest.advanceTimersByTime(60_000);
    const next = calls(3);
    next.forEach((c) => pacer.cancel(c));
    expect(cancelledCount(next)).toBe(2);
  });

  it('cancels everything waiting when flushed (the channel is closing)', () => {
    const pacer = new CancelPacer({ burst: 1, per_second: 1 });
    const list = calls(50);
    list.forEach((c) => pacer.cancel(c));
    pacer.flush();
    expect(cancelledCount(list)).toBe(50);
    expect(pacer.pending).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});
