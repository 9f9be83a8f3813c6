import type { Logger } from '@nestjs/common';
import { throttledWarning } from './throttled-warning';

describe('throttledWarning', () => {
  afterEach(() => jest.useRealTimers());

  it('logs the first warning, then none for 10 s, then the next one', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const lines: unknown[][] = [];
    const warn = throttledWarning(
      { warn: (...args: unknown[]) => lines.push(args) } as unknown as Logger,
      'redis away',
    );
    warn({ err: 'first' });
    warn({ err: 'second' });
    jest.advanceTimersByTime(9_999);
    warn({ err: 'third' });
    jest.advanceTimersByTime(1);
    warn({ err: 'fourth' });
    expect(lines).toEqual([
      [{ err: 'first' }, 'redis away'],
      [{ err: 'fourth' }, 'redis away'],
    ]);
  });
});
