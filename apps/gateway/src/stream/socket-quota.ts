import type { Socket } from 'node:net';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

/**
 * Open WebSockets per user on this replica. An idle socket costs about 20 KB, and the upgrade's rate limit
 * alone lets one user gather tens of thousands in an hour. A place is held from admission until the TCP
 * connection closes, however it ends: a handshake that fails after admission gives it back too.
 */
@Injectable()
export class SocketQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly config: AppConfig) {}

  /** Takes a place for the user until `connection` closes, or throws 429 TOO_MANY_STREAMS. */
  take(userId: string, connection: Socket): void {
    const max = this.config.stream.maxSocketsPerUser;
    const open = this.open.get(userId) ?? 0;
    if (open >= max) {
      throw new AppException(
        ErrorCode.TOO_MANY_STREAMS,
        `at most ${max} WebSockets open at a time; close one first`,
        1,
      );
    }
    this.open.set(userId, open + 1);
    connection.once('close', () => {
      const left = (this.open.get(userId) ?? 1) - 1;
      if (left > 0) this.open.set(userId, left);
      else this.open.delete(userId);
    });
  }
}
