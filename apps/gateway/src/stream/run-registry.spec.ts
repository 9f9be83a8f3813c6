import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { eventually } from '../../../../test/support/clients';
import { AppConfig } from '../config/app-config';
import { ErrorCode } from '../errors/error-code';
import type { MetricsService } from '../observability/metrics.service';
import { Run } from './run';
import type { RunMirror } from './run-mirror';
import { EXPIRE_BATCH, RunRegistry } from './run-registry';
import type { StreamQuota } from './stream-quota';

const RUNS = 2_000;

function registry(): RunRegistry {
  const config = AppConfig.fromEnv({ STREAM_RESUME_WINDOW_MS: '20' });
  const mirror = { track: () => undefined, hasRemoteReader: () => Promise.resolve(false) } as unknown as RunMirror;
  const quota = { release: () => undefined } as unknown as StreamQuota;
  const metrics = { countStreamsWith: () => undefined } as unknown as MetricsService;
  return new RunRegistry(config, mirror, quota, metrics);
}

/**
 * After a mass disconnect every run's resume window ends in the same tick. Each is cancelled, and
 * the event loop turns between batches of them, so the gateway's other requests are not held up
 * until the last one is done.
 */
describe('RunRegistry: resume windows ending together', () => {
  // Each cancel logs a line (filtered out in production below info); not the point here.
  beforeEach(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('cancels every run whose client did not come back, a batch per turn of the event loop', async () => {
    const runs = registry();
    const cancelled: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = new Run(`run-${i}`, 'user', 'agent', null);
      run.cancel = (code) => {
        expect(code).toBe(ErrorCode.CLIENT_GONE);
        cancelled.push(run.id);
      };
      runs.add(run);
      runs.attach(run)(); // the client left at once
    }
    // How many are cancelled by each turn of the loop (where I/O gets its turn too).
    const turns: number[] = [];
    let watching = true;
    const watch = () => {
      turns.push(cancelled.length);
      if (watching) setImmediate(watch);
    };
    watch();
    await eventually(() => cancelled.length === RUNS);
    watching = false;
    expect(cancelled).toHaveLength(RUNS);
    expect(new Set(cancelled).size).toBe(RUNS);
    const perTurn = turns.slice(1).map((done, i) => done - turns[i]);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(EXPIRE_BATCH);
  });

  it('spares a run whose client came back before its batch', async () => {
    const runs = registry();
    const run = new Run('back', 'user', 'agent', null);
    run.cancel = jest.fn();
    runs.add(run);
    runs.attach(run)();
    const reader = runs.attach(run); // back within the window
    await sleep(100);
    expect(run.cancel).not.toHaveBeenCalled();
    reader();
    await eventually(() => jest.mocked(run.cancel).mock.calls.length > 0);
    expect(run.cancel).toHaveBeenCalledWith(ErrorCode.CLIENT_GONE);
  });
});
