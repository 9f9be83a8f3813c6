import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, type Repository } from 'typeorm';
import { storableJson, storableText } from '../database/storable-text';
import { MessageEntity, type MessageRole } from './message.entity';

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
  append({ sessionId, role, content, metadata = {} }: NewMessage): Promise<MessageEntity> {
    return this.messages.save(
      this.messages.create({
        id: randomUUID(),
        sessionId,
        role,
        content: storableText(content),
        metadata: storableJson(metadata),
      }),
    );
  }

  /** Oldest first, after the cursor (a message seq), one more than asked to know if a page follows. */
  pageForSession(sessionId: string, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    return this.messages.find({
      where: { sessionId, seq: MoreThan(afterSeq) },
      order: { seq: 'ASC' },
      take: limit + 1,
    });
  }

  /** The newest messages of a session with content, newest first. */
  latestWithContent(sessionId: string, count: number): Promise<MessageEntity[]> {
    if (count === 0) return Promise.resolve([]);
    return this.messages
      .createQueryBuilder('m')
      .where('m.session_id = :sessionId', { sessionId })
      .andWhere(`m.content <> ''`)
      .orderBy('m.seq', 'DESC')
      .take(count)
      .getMany();
  }
}
