import { Injectable, Logger } from '@nestjs/common';
import { throttledWarning } from '../common/throttled-warning';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { RedisService } from '../redis/redis.service';

/**
 * Takes a slot in a user's set of running streams, shared by every replica: slots past their
 * expiry (a replica that died with runs open) and slots this replica could not give back are
 * dropped first, and the set itself expires after its newest slot. KEYS: the user's set; ARGV:
 * now, this slot's expiry, the maximum, run id, then the run ids of slots to give back.
 */
const ACQUIRE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #ARGV > 4 then redis.call('ZREM', KEYS[1], unpack(ARGV, 5)) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`;

interface AcquireSlotCommand {
  acquireStreamSlot(
    key: string,
    now: number,
    expiresAt: number,
    max: number,
    runId: string,
    ...giveBack: string[]
  ): Promise<number>;
}

/** A slot no run can outlive: the longest a run may last, its resume window, and some slack. */
const SLOT_SLACK_MS = 60_000;

/**
 * Slots not given back while Redis was away, remembered per user up to these bounds; past them
 * a slot is left to expire on its own.
 */
const MAX_UNRETURNED_PER_USER = 256;
const MAX_UNRETURNED = 20_000;

/**
 * MAX_STREAMS_PER_USER: running streams per user, on this replica always and, with Redis, across
 * all replicas (else a user gets the limit once per replica). If Redis cannot be asked, the
 * replica's own count still applies: the bound loosens to per replica, streams are not refused.
 */
@Injectable()
export class StreamQuota {
  private readonly logger = new Logger(StreamQuota.name);
  private readonly running = new Map<string, number>();
  /** Run ids whose slot Redis may still hold, given back with the user's next acquire. */
  private readonly unreturned = new Map<string, Set<string>>();
  private unreturnedCount = 0;
  private readonly perReplica = throttledWarning(this.logger, 'stream limits counted per replica: redis unavailable');

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {
    redis.client?.defineCommand('acquireStreamSlot', { numberOfKeys: 1, lua: ACQUIRE_SLOT });
  }

  /** Takes a slot for the run, or throws 429 TOO_MANY_STREAMS; give it back with `release` once. */
  async acquire(userId: string, runId: string): Promise<void> {
    const max = this.config.stream.maxPerUser;
    const mine = this.running.get(userId) ?? 0;
    if (mine >= max) throw tooMany(max);
    // Counted here before asking Redis, so that concurrent requests on this replica see each other.
    this.running.set(userId, mine + 1);
    if (!(await this.acquireShared(userId, runId, max))) {
      this.countOut(userId); // Redis refused the slot: there is none there to give back
      throw tooMany(max);
    }
  }

  /**
   * Gives the slot back; the registry calls it when the run finishes (a closure and a second
   * listener per run instead were 0.3 KB of every open stream).
   */
  release(userId: string, runId: string): void {
    this.countOut(userId);
    // Else a user at the limit would be refused until the slot expires (11 minutes by default).
    this.redis.client?.zrem(this.keyOf(userId), runId).catch(() => this.keepUnreturned(userId, runId));
  }

  private keepUnreturned(userId: string, runId: string): void {
    let runs = this.unreturned.get(userId);
    if (!runs) {
      if (this.unreturnedCount >= MAX_UNRETURNED) return;
      this.unreturned.set(userId, (runs = new Set()));
    } else if (runs.size >= MAX_UNRETURNED_PER_USER) {
      return;
    }
    runs.add(runId);
    this.unreturnedCount += 1;
  }

  private takeUnreturned(userId: string): string[] {
    const runs = this.unreturned.get(userId);
    if (!runs) return [];
    this.unreturned.delete(userId);
    this.unreturnedCount -= runs.size;
    return [...runs];
  }

  private countOut(userId: string): void {
    const left = (this.running.get(userId) ?? 1) - 1;
    if (left > 0) this.running.set(userId, left);
    else this.running.delete(userId);
  }

  private async acquireShared(userId: string, runId: string, max: number): Promise<boolean> {
    if (!this.redis.client) return true;
    const { maxDurationMs, resumeWindowMs } = this.config.stream;
    const now = Date.now();
    const giveBack = this.takeUnreturned(userId);
    try {
      const taken = await (this.redis.client as unknown as AcquireSlotCommand).acquireStreamSlot(
        this.keyOf(userId),
        now,
        now + maxDurationMs + resumeWindowMs + SLOT_SLACK_MS,
        max,
        runId,
        ...giveBack,
      );
      return taken === 1;
    } catch (error) {
      for (const id of giveBack) this.keepUnreturned(userId, id);
      this.perReplica({ err: (error as Error).message });
      return true;
    }
  }

  private keyOf(userId: string): string {
    return this.redis.key('streams', userId);
  }
}

function tooMany(max: number): AppException {
  return new AppException(
    ErrorCode.TOO_MANY_STREAMS,
    `at most ${max} streams at a time; finish or cancel one first`,
    1,
  );
}
