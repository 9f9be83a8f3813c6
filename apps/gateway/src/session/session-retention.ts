import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { SessionRepository } from './session.repository';

const SWEEP_EVERY_MS = 60 * 60 * 1000;
const FIRST_SWEEP_AFTER_MS = 60 * 1000;
/** Sessions deleted per statement: each deletes their messages too, so a transaction stays small. */
const BATCH = 500;

/**
 * Deletes sessions nobody has used for SESSION_RETENTION_DAYS, with their messages: a minute after
 * start, then every hour, a batch at a time. Every replica sweeps; they skip each other's rows.
 */
@Injectable()
export class SessionRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SessionRetention.name);
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.sessions.retentionDays > 0) this.sweepAfter(FIRST_SWEEP_AFTER_MS);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The next sweep is timed from the end of the last, so that a long one never overlaps the next. */
  private sweepAfter(ms: number): void {
    this.timer = setTimeout(() => {
      this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'session retention sweep failed'))
        .finally(() => {
          if (!this.stopped) this.sweepAfter(SWEEP_EVERY_MS);
        });
    }, ms).unref();
  }

  /** Deletes every session past retention, a batch at a time; says how many. */
  async sweep(): Promise<number> {
    const days = this.config.sessions.retentionDays;
    if (days === 0) return 0;
    let total = 0;
    for (let deleted = BATCH; deleted === BATCH && !this.stopped;) {
      deleted = await this.sessions.deleteUnused(days, BATCH);
      total += deleted;
      await nextTurn(); // requests between batches
    }
    if (total > 0) this.logger.log({ deleted: total, retention_days: days }, 'deleted sessions past retention');
    return total;
  }
}
