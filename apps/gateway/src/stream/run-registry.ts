import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { ErrorCode } from '../errors/error-code';
import type { Run } from './run';
import { MetricsService } from '../observability/metrics.service';
import { RunMirror } from './run-mirror';
import { StreamQuota } from './stream-quota';

/** Runs cancelled per turn of the event loop once their resume window has ended (a few ms of work). */
export const EXPIRE_BATCH = 100;

interface Entry {
  run: Run;
  readers: number;
  resumeTimer?: NodeJS.Timeout;
}

/**
 * The runs this replica drives. A run outlives its last reader by the resume window (so a
 * reconnecting client picks up where it was), then it is cancelled; a finished run is kept for
 * the same window so late readers still get its end.
 */
@Injectable()
export class RunRegistry implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RunRegistry.name);
  private readonly runs = new Map<string, Entry>();
  /** Runs whose resume window has ended, waiting for their batch (expireSoon). */
  private readonly expiring: Entry[] = [];
  private running = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly mirror: RunMirror,
    private readonly quota: StreamQuota,
    metrics: MetricsService,
  ) {
    metrics.countStreamsWith(() => this.activeCount);
  }

  get activeCount(): number {
    return this.running;
  }

  /** Registers a new run, whose user holds a StreamQuota slot for it until it finishes. */
  add(run: Run): void {
    this.runs.set(run.id, { run, readers: 0 });
    this.running += 1;
    this.mirror.track(run);
    run.once('finished', () => {
      this.running -= 1;
      this.quota.release(run.userId, run.id);
      this.forgetLater(run.id);
    });
  }

  /** The run if it is this user's; anyone else's run does not exist for them. */
  findOwned(runId: string, userId: string): Run | undefined {
    const entry = this.runs.get(runId);
    return entry && entry.run.userId === userId ? entry.run : undefined;
  }

  /** Counts a reader in; the returned function counts it out (and may start the resume window). */
  attach(run: Run): () => void {
    const entry = this.runs.get(run.id);
    if (!entry) return () => undefined;
    entry.readers += 1;
    clearTimeout(entry.resumeTimer);
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      entry.readers -= 1;
      if (entry.readers === 0 && !run.finished) this.startResumeWindow(entry);
    };
  }

  /** Tell readers the process is stopping, then let runs finish inside the drain time. */
  async beforeApplicationShutdown(): Promise<void> {
    const budget = Math.max(0, this.config.shutdown.drainTimeoutMs - 1000);
    const until = Date.now() + budget;
    while (this.activeCount > 0 && Date.now() < until) await sleep(50);
    for (const { run } of this.runs.values()) if (!run.finished) run.cancel(ErrorCode.SHUTTING_DOWN);
  }

  private startResumeWindow(entry: Entry): void {
    if (this.config.stream.resumeWindowMs === 0) return void this.expire(entry);
    entry.resumeTimer = setTimeout(() => this.expireSoon(entry), this.config.stream.resumeWindowMs).unref();
  }

  /**
   * Queues a run whose window has ended. After a mass disconnect thousands of windows end in the same
   * timer tick; cancelling them all there stalled every other request for hundreds of milliseconds, so
   * they are cancelled a batch per turn of the event loop, with I/O in between.
   */
  private expireSoon(entry: Entry): void {
    this.expiring.push(entry);
    if (this.expiring.length === 1) setImmediate(() => this.expireBatch());
  }

  private expireBatch(): void {
    for (const entry of this.expiring.splice(0, EXPIRE_BATCH)) void this.expire(entry);
    if (this.expiring.length > 0) setImmediate(() => this.expireBatch());
  }

  private async expire(entry: Entry): Promise<void> {
    if (entry.readers > 0 || entry.run.finished) return;
    if (await this.mirror.hasRemoteReader(entry.run.id)) {
      const retryMs = this.config.stream.resumeWindowMs || 1000;
      entry.resumeTimer = setTimeout(() => this.expireSoon(entry), retryMs).unref();
      return;
    }
    this.logger.log({ run_id: entry.run.id }, 'no reader came back: cancelling the run');
    entry.run.cancel(ErrorCode.CLIENT_GONE);
  }

  private forgetLater(runId: string): void {
    const entry = this.runs.get(runId);
    if (entry) clearTimeout(entry.resumeTimer);
    setTimeout(() => this.runs.delete(runId), this.config.stream.resumeWindowMs).unref();
  }
}
