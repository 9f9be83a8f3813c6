import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { insertCreated } from '../database/insert-created';
import type { SessionsPage } from './session.dto';
import { SessionEntity } from './session.entity';

/** How much of one user's data there is, or was deleted. */
export interface UserDataCount {
  sessions: number;
  messages: number;
}

@Injectable()
export class SessionRepository {
  constructor(@InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>) {}

  /**
   * A new active session, unless the user has `maxActive` already (null). The user's sessions are locked
   * for the transaction (an advisory lock on their id), so concurrent creates cannot both take the last place.
   */
  create(
    userId: string,
    agentId: string,
    context: Record<string, unknown>,
    maxActive: number,
  ): Promise<SessionEntity | null> {
    return this.sessions.manager.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('sessions:' || $1, 0))`, [userId]);
      const [{ active }] = await manager.query<[{ active: number }]>(
        `SELECT count(*)::int AS active FROM (
           SELECT 1 FROM sessions WHERE user_id = $1 AND state = 'active' LIMIT $2
         ) mine`,
        [userId, maxActive],
      );
      if (active >= maxActive) return null;
      const repository = manager.getRepository(SessionEntity);
      const session = { id: randomUUID(), userId, agentId, context, state: 'active' as const, closedAt: null };
      return insertCreated(repository, repository.create(session));
    });
  }

  /**
   * A user's sessions, newest first, after the cursor (a session id of theirs), one more than asked to
   * know if a page follows. The cursor's own timestamp is compared in SQL: Postgres keeps microseconds,
   * which a JavaScript Date would round away, skipping or repeating sessions created in the same millisecond.
   */
  pageForUser(userId: string, { limit, cursor, state, agent_id }: SessionsPage): Promise<SessionEntity[]> {
    const query = this.sessions
      .createQueryBuilder('s')
      .where('s.user_id = :userId', { userId })
      .orderBy('s.created_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .take(limit + 1);
    if (state) query.andWhere('s.state = :state', { state });
    if (agent_id) query.andWhere('s.agent_id = :agentId', { agentId: agent_id });
    if (cursor) {
      query.andWhere(
        '(s.created_at, s.id) < (SELECT c.created_at, c.id FROM sessions c WHERE c.id = :cursor AND c.user_id = :userId)',
        { cursor },
      );
    }
    return query.getMany();
  }

  /** The session if it exists and belongs to this user; another user's session is as good as absent. */
  findOwnedByUser(userId: string, id: string): Promise<SessionEntity | null> {
    return this.sessions.findOneBy({ id, userId });
  }

  /**
   * Deletes up to `batch` sessions unused for `days` days, with their messages (ON DELETE CASCADE), and
   * says how many. Rows another replica is deleting at the same moment are skipped, not waited for.
   * A recent message keeps a session too: before updated_at followed queries, it changed only on close.
   */
  async deleteUnused(days: number, batch: number): Promise<number> {
    // A SELECT around the DELETE: TypeORM answers a bare DELETE with [rows, count] on pg, rows on PGlite.
    const [{ deleted }] = await this.sessions.query<[{ deleted: number }]>(
      `WITH unused AS (
         SELECT s.id FROM sessions s
         WHERE s.updated_at < now() - make_interval(days => $1)
           AND NOT EXISTS (
             SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.created_at >= now() - make_interval(days => $1)
           )
         ORDER BY s.updated_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED
       ), gone AS (
         DELETE FROM sessions s USING unused WHERE s.id = unused.id RETURNING s.id
       )
       SELECT count(*)::int AS deleted FROM gone`,
      [days, batch],
    );
    return deleted;
  }

  /** How many sessions and messages a user has. */
  async countOfUser(userId: string): Promise<UserDataCount> {
    const [count] = await this.sessions.query<[UserDataCount]>(
      `SELECT count(*)::int AS sessions,
              (SELECT count(*)::int FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)) AS messages
       FROM sessions WHERE user_id = $1`,
      [userId],
    );
    return count;
  }

  /**
   * Deletes up to `batch` of a user's sessions with their messages (ON DELETE CASCADE), and says how
   * many of each: the messages are counted in the statement's snapshot, before the cascade removes them.
   */
  async deleteOfUser(userId: string, batch: number): Promise<UserDataCount> {
    const [count] = await this.sessions.query<[UserDataCount]>(
      `WITH gone AS (
         DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE user_id = $1 LIMIT $2) RETURNING id
       )
       SELECT (SELECT count(*)::int FROM gone) AS sessions,
              (SELECT count(*)::int FROM messages WHERE session_id IN (SELECT id FROM gone)) AS messages`,
      [userId, batch],
    );
    return count;
  }

  /** Marks the session as updated now: its `updated_at` says when it was last used. */
  async touch(id: string): Promise<void> {
    await this.sessions
      .createQueryBuilder()
      .update()
      .set({ updatedAt: () => 'now()' })
      .where('id = :id', { id })
      .execute();
  }

  /** Replaces the context of an active session the user owns; false if there is none. */
  async replaceContextOwnedByUser(userId: string, id: string, context: Record<string, unknown>): Promise<boolean> {
    const result = await this.sessions
      .createQueryBuilder()
      .update()
      .set({ context: () => 'CAST(:context AS jsonb)', updatedAt: () => 'now()' })
      .where('id = :id AND user_id = :userId AND state = :state', { id, userId, state: 'active' })
      .setParameter('context', JSON.stringify(context))
      .execute();
    return (result.affected ?? 0) > 0;
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
