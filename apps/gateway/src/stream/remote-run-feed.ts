import type Redis from 'ioredis';
import type { CancelSignal } from '../common/cancel-signal';
import { Run, type RunEvent } from './run';

/** How long one read waits for events; also how often leases are renewed and silent runs checked. */
export const FEED_BLOCK_MS = 1000;
/** Runs one feed (one connection) follows at most: each read names every one of them. */
export const FEED_CAPACITY = 256;
/** Entries a read takes per run at most. */
const READ_COUNT = 500;

/** Where a followed run lives in Redis, and what keeps a reader's lease. */
export interface FollowedKeys {
  events: string;
  lease: string;
}

interface Followed {
  run: Run;
  keys: FollowedKeys;
  /** The id of the last entry read: the next read starts after it. */
  lastId: string;
  lastEventAt: number;
  /** One per client reading it here (a socket that resumes it again is still one). */
  readers: Set<CancelSignal>;
}

const runLost = (run: Run, message: string) => run.push('error', { code: 'RUN_LOST', message });

/**
 * Follows runs that other replicas drive, all on one blocking Redis connection: a single XREAD
 * names every followed run's stream, where a connection per follower would cost a connect before
 * the first event and count against Redis's client limit. A run followed by several clients here
 * is read once, into one local copy they all read.
 *
 * A run that starts being followed wakes the blocked read through a stream of the feed's own (an
 * entry added there ends the wait, or the next read sees it at once), so its events come without
 * waiting for the current read to time out.
 */
export class RemoteRunFeed {
  private readonly followed = new Map<string, Followed>();
  private wakeId = '0';
  private reading = false;
  private tending?: NodeJS.Timeout;

  constructor(
    private readonly reader: Redis,
    private readonly client: Redis,
    /** A stream of this feed's own, written to wake its blocked read. */
    private readonly wakeKey: string,
    private readonly leaseMs: number,
    private readonly warn: (error: Error) => void,
    /** Called when the feed follows nothing any more and its read has ended. */
    private readonly onIdle: () => void = () => undefined,
  ) {}

  /** Runs followed now (a run counts once however many clients read it). */
  get size(): number {
    return this.followed.size;
  }

  has(runId: string): boolean {
    return this.followed.has(runId);
  }

  /**
   * The local copy of run `runId` (made by `copy` unless this feed already follows it), filled from
   * its Redis stream until the run ends or every signal given for it has been cancelled.
   */
  follow(runId: string, keys: FollowedKeys, copy: () => Run, signal: CancelSignal): Run {
    let entry = this.followed.get(runId);
    if (signal.cancelled) return entry?.run ?? copy();
    if (!entry) {
      entry = { run: copy(), keys, lastId: '0', lastEventAt: Date.now(), readers: new Set() };
      this.followed.set(runId, entry);
      this.renewLease(entry);
      this.client
        .xadd(this.wakeKey, 'MAXLEN', '~', 16, '*', 'w', '')
        .then(() => this.client.pexpire(this.wakeKey, 10 * FEED_BLOCK_MS))
        .catch((e: Error) => this.warn(e));
      void this.read();
    }
    const followed = entry;
    if (followed.readers.has(signal)) return followed.run;
    followed.readers.add(signal);
    signal.onCancel(() => {
      followed.readers.delete(signal);
      if (followed.readers.size === 0 && this.followed.get(runId) === followed) this.followed.delete(runId);
    });
    return followed.run;
  }

  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    this.tending = setInterval(() => this.tend(), FEED_BLOCK_MS).unref();
    try {
      while (this.followed.size > 0) {
        const entries = [...this.followed.values()];
        const byKey = new Map(entries.map((e) => [e.keys.events, e]));
        const batch = await this.reader.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          FEED_BLOCK_MS,
          'STREAMS',
          this.wakeKey,
          ...entries.map((e) => e.keys.events),
          this.wakeId,
          ...entries.map((e) => e.lastId),
        );
        for (const [key, items] of batch ?? []) {
          if (key === this.wakeKey) this.wakeId = items.at(-1)![0];
          else this.deliver(byKey.get(key)!, items);
        }
      }
    } catch (error) {
      for (const { run } of this.followed.values()) runLost(run, 'lost contact with the run');
      this.followed.clear();
      // 'end': the connection was closed on purpose (shutdown); reconnecting never gives up.
      if (this.reader.status !== 'end') this.warn(error as Error);
    } finally {
      clearInterval(this.tending);
      this.reading = false;
      if (this.followed.size === 0) this.onIdle();
    }
  }

  private deliver(entry: Followed, items: [id: string, fields: string[]][]): void {
    for (const [id, fields] of items) {
      entry.lastId = id;
      const event = JSON.parse(fields[1]) as RunEvent;
      if (event.seq === entry.run.events.length) entry.run.push(event.event, event.data);
    }
    entry.lastEventAt = Date.now();
    if (entry.run.finished) this.forget(entry);
  }

  /** Once a read's time: readers' leases renewed; a run silent that long is checked for having gone. */
  private tend(): void {
    const silentSince = Date.now() - FEED_BLOCK_MS;
    for (const entry of this.followed.values()) {
      this.renewLease(entry);
      if (entry.lastEventAt > silentSince) continue;
      this.client
        .exists(entry.keys.events)
        .then((found) => {
          if (found === 0 && this.followed.get(entry.run.id) === entry) {
            runLost(entry.run, 'the run ended without a final event');
            this.forget(entry);
          }
        })
        .catch(() => undefined);
    }
  }

  /** Tells the driving replica a client here still reads (it would cancel the run after its resume window). */
  private renewLease(entry: Followed): void {
    this.client.set(entry.keys.lease, '1', 'PX', this.leaseMs).catch(() => undefined);
  }

  private forget(entry: Followed): void {
    if (this.followed.get(entry.run.id) === entry) this.followed.delete(entry.run.id);
  }
}
