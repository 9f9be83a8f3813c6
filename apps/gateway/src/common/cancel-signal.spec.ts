import { CancelSignal } from './cancel-signal';

describe('CancelSignal', () => {
  it('runs each listener once, in order, when cancelled, and a second cancel runs none again', () => {
    const signal = new CancelSignal();
    const heard: string[] = [];
    signal.onCancel(() => heard.push('first'));
    signal.onCancel(() => heard.push('second'));
    expect(signal.cancelled).toBe(false);
    signal.cancel();
    signal.cancel();
    expect(signal.cancelled).toBe(true);
    expect(heard).toEqual(['first', 'second']);
  });

  it('runs a listener added after the cancel at once: work started late is still stopped', () => {
    const signal = new CancelSignal();
    signal.cancel();
    const late = jest.fn();
    signal.onCancel(late);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it('does not run a listener that was removed, and keeps the others', () => {
    const signal = new CancelSignal();
    const removed = jest.fn();
    const kept = jest.fn();
    signal.onCancel(removed);
    signal.onCancel(kept);
    signal.offCancel(removed);
    signal.offCancel(() => undefined); // never added: nothing else is removed
    signal.cancel();
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });
});
