import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AgentCatalog } from './agent-catalog';
import type { MessageEntity } from './message.entity';
import { MessageRepository } from './message.repository';
import type { SessionEntity } from './session.entity';
import { sessionClosed, sessionNotFound, tooManySessions } from './session-errors';
import { SessionRepository } from './session.repository';
import type {
  MessageDto,
  MessagesPageResponseDto,
  SessionDto,
  SessionsPage,
  SessionsPageResponseDto,
} from './session.dto';

/** Sessions as their owner sees them; anyone else gets 404, as if they did not exist. */
@Injectable()
export class SessionService {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly messages: MessageRepository,
    private readonly catalog: AgentCatalog,
    private readonly config: AppConfig,
  ) {}

  async create(userId: string, agentId: string, context: Record<string, unknown> = {}): Promise<SessionDto> {
    this.catalog.assertConfigured(agentId);
    const { maxActivePerUser } = this.config.sessions;
    const session = await this.sessions.create(userId, agentId, context, maxActivePerUser);
    if (!session) throw tooManySessions(maxActivePerUser);
    return toSessionDto(session);
  }

  async list(userId: string, page: SessionsPage): Promise<SessionsPageResponseDto> {
    const rows = await this.sessions.pageForUser(userId, page);
    const sessions = rows.slice(0, page.limit);
    return {
      sessions: sessions.map(toSessionDto),
      next_cursor: rows.length > page.limit ? sessions[sessions.length - 1].id : null,
    };
  }

  async get(userId: string, id: string): Promise<SessionDto> {
    return toSessionDto(await this.findOwned(userId, id));
  }

  /** Marks a session the caller owns as used now (a turn began in it). */
  touch(id: string): Promise<void> {
    return this.sessions.touch(id);
  }

  /** Replaces the context sent to the agent from the next query on; a closed session keeps its own (409). */
  async replaceContext(userId: string, id: string, context: Record<string, unknown>): Promise<SessionDto> {
    const replaced = await this.sessions.replaceContextOwnedByUser(userId, id, context);
    const session = await this.findOwned(userId, id);
    if (!replaced && session.state === 'closed') throw sessionClosed(id);
    return toSessionDto(session);
  }

  async close(userId: string, id: string): Promise<SessionDto> {
    const session = await this.sessions.closeOwnedByUser(userId, id);
    if (!session) throw sessionNotFound(id);
    return toSessionDto(session);
  }

  async messagesPage(userId: string, id: string, limit: number, cursor?: string): Promise<MessagesPageResponseDto> {
    await this.findOwned(userId, id);
    const rows = await this.messages.pageForSession(id, cursor ? Number(cursor) : 0, limit);
    const page = rows.slice(0, limit);
    return {
      messages: page.map(toMessageDto),
      next_cursor: rows.length > limit ? String(page[page.length - 1].seq) : null,
    };
  }

  async findOwned(userId: string, id: string): Promise<SessionEntity> {
    const session = await this.sessions.findOwnedByUser(userId, id);
    if (!session) throw sessionNotFound(id);
    return session;
  }
}

function toSessionDto(s: SessionEntity): SessionDto {
  return {
    id: s.id,
    agent_id: s.agentId,
    state: s.state,
    context: s.context,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
    closed_at: s.closedAt ? s.closedAt.toISOString() : null,
  };
}

function toMessageDto(m: MessageEntity): MessageDto {
  return { id: m.id, role: m.role, content: m.content, metadata: m.metadata, created_at: m.createdAt.toISOString() };
}
