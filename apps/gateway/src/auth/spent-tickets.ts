import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { throttledWarning } from '../common/throttled-warning';
import { RedisService } from '../redis/redis.service';

/**
 * Tickets remembered per process at most: past it the least recently spent is forgotten, so a flood of
 * streams (over 800 a second with 60 s tickets) could let one be reused, but never grows memory (~10 MB).
 */
const MAX_LOCAL = 100_000;

/**
 * The stream tickets already spent, each until it expires: in Redis when configured (SET NX, so a ticket
 * opens one stream across all replicas), else in this process. While Redis cannot be reached, in this
 * process too: a ticket then opens one stream per replica, and browsers keep working.
 */
@Injectable()
export class SpentTickets {
  private readonly logger = new Logger(SpentTickets.name);
  private readonly unavailable = throttledWarning(this.logger, 'spent stream tickets checked on this replica only');
  private readonly local = new LRUCache<string, true>({ max: MAX_LOCAL });

  constructor(private readonly redis: RedisService) {}

  /** True the first time a ticket id is spent before `expiresAtMs`, false ever after. */
  async claim(ticketId: string, expiresAtMs: number): Promise<boolean> {
    const ttlMs = Math.max(1, expiresAtMs - Date.now());
    if (this.redis.client) {
      try {
        const set = await this.redis.client.set(this.redis.key('ticket', ticketId), '1', 'PX', ttlMs, 'NX');
        return set === 'OK';
      } catch (error) {
        this.unavailable({ err: (error as Error).message });
      }
    }
    if (this.local.has(ticketId)) return false;
    this.local.set(ticketId, true, { ttl: ttlMs });
    return true;
  }
}
