import { AppConfig } from '../config/app-config';
import { SessionRetention } from './session-retention';
import type { SessionRepository } from './session.repository';

/** A retention whose repository deletes `batches` in turn, recording each call's days. */
function retention(days: string, batches: number[]) {
  const calls: number[] = [];
  const sessions = {
    deleteUnused: (d: number) => {
      calls.push(d);
      return Promise.resolve(batches.shift() ?? 0);
    },
  } as unknown as SessionRepository;
  return { calls, service: new SessionRetention(sessions, AppConfig.fromEnv({ SESSION_RETENTION_DAYS: days })) };
}

describe('SessionRetention', () => {
  it('deletes batch after batch until one is not full', async () => {
    const { calls, service } = retention('30', [500, 500, 3, 500]);
    expect(await service.sweep()).toBe(1003);
    expect(calls).toEqual([30, 30, 30]);
  });

  it('deletes nothing when retention is 0, the default', async () => {
    const { calls, service } = retention('0', [500]);
    expect(await service.sweep()).toBe(0);
    expect(calls).toEqual([]);
  });

  it('sweeps a minute after start, then an hour after each sweep ends, until shutdown', async () => {
    jest.useFakeTimers();
    try {
      const { calls, service } = retention('30', []);
      service.onApplicationBootstrap();
      await jest.advanceTimersByTimeAsync(59_000);
      expect(calls).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(calls).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(3_600_000);
      expect(calls).toHaveLength(2);
      service.onApplicationShutdown();
      await jest.advanceTimersByTimeAsync(10 * 3_600_000);
      expect(calls).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('stops between batches once the application shuts down', async () => {
    const { calls, service } = retention('30', [500, 500, 500]);
    const sweeping = service.sweep();
    service.onApplicationShutdown();
    expect(await sweeping).toBe(500);
    expect(calls).toHaveLength(1);
  });
});
