import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { SessionEntity } from './session.entity';

@Injectable()
export class SessionRepository {
  constructor(@InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>) {}

  create(userId: string, agentId: string, context: Record<string, unknown>): Promise<SessionEntity> {
    return this.sessions.save(this.sessions.create({ id: randomUUID(), userId, agentId, context, state: 'active' }));
  }

  /** The session if it exists and belongs to this user; another user's session is as good as absent. */
  findOwnedByUser(userId: string, id: string): Promise<SessionEntity | null> {
    return this.sessions.findOneBy({ id, userId });
  }

  async closeOwnedByUser(userId: string, id: string): Promise<SessionEntity | null> {
    await this.sessions
      .createQueryBuilder()
      .update()
      .set({ state: 'closed', closedAt: () => 'now()' })
      .where('id = :id AND user_id = :userId AND state = :state', { id, userId, state: 'active' })
      .execute();
    return this.findOwnedByUser(userId, id);
  }
}
