import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import type { CancelSignal } from '../common/cancel-signal';
import { throttledWarning } from '../common/throttled-warning';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { FEED_BLOCK_MS, FEED_CAPACITY, RemoteRunFeed } from './remote-run-feed';
import { Run, isTerminal, type RunEvent } from './run';

interface RunMeta {
  user_id: string;
  agent_id: string;
  session_id: string | null;
}

const MAX_STREAM_LENGTH = 100_000;
/** The events stream's TTL is renewed every this many events (and set with the first). */
const TTL_RENEWAL_EVENTS = 64;
const CONTROL_CHANNEL = 'run-control';

/**
 * Copies each run's events into a Redis stream so another replica can resume it, and carries
 * cancel requests and "someone is still reading" leases between replicas. Without REDIS_URL
 * it does nothing and runs live only in this process.
 */
@Injectable()
export class RunMirror implements OnModuleInit {
  private readonly logger = new Logger(RunMirror.name);
  private subscriber?: Redis;
  private readonly cancelHandlers = new Map<string, (code: string) => void>();
  /** Runs of other replicas followed here, up to FEED_CAPACITY per connection. */
  private readonly feeds: RemoteRunFeed[] = [];

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  get enabled(): boolean {
    return this.redis.enabled;
  }

  onModuleInit(): void {
    if (!this.redis.enabled) return;
    this.subscriber = this.redis.duplicate('run-control', { blocking: true });
    void this.subscriber.subscribe(this.redis.key(CONTROL_CHANNEL)).catch(() => undefined);
    this.subscriber.on('message', (_channel: string, message: string) => {
      try {
        const { run_id, code } = JSON.parse(message) as { run_id: string; code: string };
        this.cancelHandlers.get(run_id)?.(code);
      } catch {
        /* not ours */
      }
    });
  }

  /** Mirrors a run this replica drives, and lets other replicas cancel it. */
  track(run: Run): void {
    if (!this.redis.client) return;
    const client = this.redis.client;
    const streamKey = this.redis.key('run', run.id, 'events');
    const metaKey = this.redis.key('run', run.id, 'meta');
    const ttl = this.config.stream.maxDurationMs + this.config.stream.resumeWindowMs;
    const meta: RunMeta = { user_id: run.userId, agent_id: run.agentId, session_id: run.sessionId };
    this.cancelHandlers.set(run.id, (code) => run.cancel(code));
    void client.set(metaKey, JSON.stringify(meta), 'PX', ttl).catch((e: Error) => this.warn(e));
    // Writes are not awaited: a slow Redis must not slow the stream; order is kept by the connection.
    // A run cannot outlive its TTL, so it is set with the first event, not after each (half the commands
    // per event); every 64th renews it, in case the first was lost while Redis was away.
    run.on('event', (event: RunEvent) => {
      const renew = event.seq % TTL_RENEWAL_EVENTS === 0;
      const write = client
        .xadd(streamKey, 'MAXLEN', '~', MAX_STREAM_LENGTH, '*', 'e', JSON.stringify(event))
        .then(() => (isTerminal(event) ? client.pexpire(streamKey, this.config.stream.resumeWindowMs) : undefined))
        .then(() => {
          if (isTerminal(event)) return client.pexpire(metaKey, this.config.stream.resumeWindowMs);
          return renew ? client.pexpire(streamKey, ttl) : undefined;
        });
      write.catch((e: Error) => this.warn(e));
      if (isTerminal(event)) this.cancelHandlers.delete(run.id);
    });
  }

  /** True when a client on another replica is reading this run (its lease is fresh). */
  async hasRemoteReader(runId: string): Promise<boolean> {
    if (!this.redis.client) return false;
    return (await this.redis.client.exists(this.redis.key('run', runId, 'lease')).catch(() => 0)) === 1;
  }

  async requestCancel(runId: string, code: string): Promise<void> {
    await this.redis.client?.publish(this.redis.key(CONTROL_CHANNEL), JSON.stringify({ run_id: runId, code }));
  }

  /**
   * A local copy of a run driven by another replica, filled from its Redis stream until the run
   * ends or `signal` fires; undefined if no such run (or not this user's).
   */
  async follow(runId: string, userId: string, signal: CancelSignal): Promise<Run | undefined> {
    const meta = await this.ownedMeta(runId, userId);
    if (!meta) return undefined;
    const copy = () => {
      const run = new Run(runId, meta.user_id, meta.agent_id, meta.session_id);
      run.cancel = (code) => void this.requestCancel(runId, code).catch((e: Error) => this.warn(e));
      return run;
    };
    const keys = { events: this.redis.key('run', runId, 'events'), lease: this.redis.key('run', runId, 'lease') };
    return this.feedFor(runId).follow(runId, keys, copy, signal);
  }

  /** True when another replica drives this run for this user (so it can be cancelled from here). */
  async isOwnedBy(runId: string, userId: string): Promise<boolean> {
    return (await this.ownedMeta(runId, userId)) !== undefined;
  }

  private async ownedMeta(runId: string, userId: string): Promise<RunMeta | undefined> {
    const metaText = await this.redis.client?.get(this.redis.key('run', runId, 'meta'));
    if (!metaText) return undefined;
    const meta = JSON.parse(metaText) as RunMeta;
    return meta.user_id === userId ? meta : undefined;
  }

  /**
   * The feed that follows this run already, else one with room (a new connection when all are full).
   * The first feed stays; one added for a peak closes its connection once it follows nothing.
   */
  private feedFor(runId: string): RemoteRunFeed {
    const found = this.feeds.find((f) => f.has(runId)) ?? this.feeds.find((f) => f.size < FEED_CAPACITY);
    if (found) return found;
    const reader = this.redis.duplicate(`follow:${this.feeds.length}`, { blocking: true });
    const feed: RemoteRunFeed = new RemoteRunFeed(
      reader,
      this.redis.client!,
      this.redis.key('feed', randomUUID(), 'wake'),
      this.config.stream.resumeWindowMs + 2 * FEED_BLOCK_MS,
      (e) => this.warn(e),
      () => {
        if (this.feeds[0] === feed) return;
        this.feeds.splice(this.feeds.indexOf(feed), 1);
        void this.redis.release(reader);
      },
    );
    this.feeds.push(feed);
    return feed;
  }

  private readonly notMirrored = throttledWarning(
    this.logger,
    'could not mirror a run to redis; resuming on other replicas may fail',
  );

  private warn(error: Error): void {
    this.notMirrored({ err: error.message });
  }
}
