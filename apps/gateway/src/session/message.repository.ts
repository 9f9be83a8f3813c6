import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, type Repository } from 'typeorm';
import { insertCreated } from '../database/insert-created';
import { storableJson, storableText } from '../database/storable-text';
import { violatesConstraint } from '../errors/database-errors';
import { MessageEntity, type MessageRole } from './message.entity';
import { sessionNotFound } from './session-errors';

export interface NewMessage {
  sessionId: string;
  role: MessageRole;
  content: string;
  metadata?: Record<string, unknown>;
}

@Injectable()
export class MessageRepository {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  /** Stores an agent's text as it can: U+0000 and unpaired surrogates become U+FFFD, rather than lose the turn. */
  async append({ sessionId, role, content, metadata = {} }: NewMessage): Promise<MessageEntity> {
    const message = this.messages.create({
      id: randomUUID(),
      sessionId,
      role,
      content: storableText(content),
      metadata: storableJson(metadata),
    });
    try {
      return await insertCreated(this.messages, message);
    } catch (error) {
      // The session was deleted (retention) between the turn's check and this write: gone, not our fault.
      if (violatesConstraint(error, 'fk_messages_session')) throw sessionNotFound(sessionId);
      throw error;
    }
  }

  /** Oldest first, after the cursor (a message seq), one more than asked to know if a page follows. */
  pageForSession(sessionId: string, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    return this.messages.find({
      where: { sessionId, seq: MoreThan(afterSeq) },
      order: { seq: 'ASC' },
      take: limit + 1,
    });
  }

  /**
   * The newest answered turns of a session, newest answer first: each answer with the question it
   * replies to. A turn still running has no answer yet, so it is not among them.
   */
  latestAnsweredTurns(sessionId: string, count: number): Promise<AnsweredTurn[]> {
    if (count === 0) return Promise.resolve([]);
    return this.messages
      .createQueryBuilder('a')
      .innerJoin(MessageEntity, 'q', `q.id = (a.metadata->>'reply_to')::uuid AND q.session_id = a.session_id`)
      .select(['q.content AS question', 'a.content AS answer'])
      .where('a.session_id = :sessionId', { sessionId })
      .andWhere(`a.role = 'assistant'`)
      .orderBy('a.seq', 'DESC')
      .limit(count)
      .getRawMany<AnsweredTurn>();
  }
}

export interface AnsweredTurn {
  question: string;
  /** Empty when the agent failed before it produced anything. */
  answer: string;
}
