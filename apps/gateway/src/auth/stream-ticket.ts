import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { SetMetadata } from '@nestjs/common';
import { SignJWT, jwtVerify } from 'jose';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import type { AuthUser } from './auth-user';
import { SpentTickets } from './spent-tickets';

const AUDIENCE = 'agent-gateway:stream-ticket';
export const ACCEPTS_STREAM_TICKET = 'auth:acceptsStreamTicket';

/**
 * Whether a request with a ticket resumes a run (the resume route, or a reconnecting EventSource's
 * Last-Event-ID) rather than opening one: a resume still takes the ticket once it has expired.
 */
export type TicketUse = 'open' | 'resume';
/** What a route does with a ticket: the query route opens, or resumes with a Last-Event-ID. */
export type TicketRoute = TicketUse | 'open-or-resume';

/** Lets a route be opened with `?ticket=` instead of an Authorization header (browser EventSource). */
export const AcceptsStreamTicket = (use: TicketRoute): MethodDecorator => SetMetadata(ACCEPTS_STREAM_TICKET, use);

/**
 * Short-lived stream tickets: EventSource cannot send headers, and a long-lived token in a URL
 * ends up in proxy logs and browser history. A ticket is good for STREAM_TICKET_TTL_SECONDS,
 * only for opening one stream (or WebSocket), and only for the user it was issued to: a URL
 * copied from a log or a browser's history opens nothing once its stream was opened.
 */
@Injectable()
export class StreamTickets {
  private readonly key: Uint8Array;

  constructor(
    private readonly config: AppConfig,
    private readonly spent: SpentTickets,
  ) {
    const configured =
      config.stream.ticketSecret ??
      (config.auth.key.kind === 'secret' ? `ticket:${config.auth.key.secret}` : undefined);
    if (!configured) {
      new Logger(StreamTickets.name).warn(
        'STREAM_TICKET_SECRET is not set: tickets work on this replica only; set it for several replicas',
      );
    }
    this.key = configured ? new TextEncoder().encode(configured) : randomBytes(32);
  }

  async issue(userId: string): Promise<{ ticket: string; expires_in: number }> {
    const ttl = this.config.stream.ticketTtlSeconds;
    const ticket = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setJti(randomUUID())
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .sign(this.key);
    return { ticket, expires_in: ttl };
  }

  /**
   * The ticket's user. A resume takes a ticket expired for as long as a run it opened can still be
   * read (a run lasts STREAM_MAX_DURATION_MS at most, then stays readable STREAM_RESUME_WINDOW_MS):
   * EventSource reconnects by itself with the URL it was given, and cannot be given another. To open,
   * the user carries the ticket to `spend` once the request is admitted.
   */
  async verify(ticket: string, use: TicketUse = 'open'): Promise<AuthUser> {
    const { maxDurationMs, resumeWindowMs } = this.config.stream;
    const clockTolerance = use === 'resume' ? Math.ceil((maxDurationMs + resumeWindowMs) / 1000) : 0;
    try {
      const { payload } = await jwtVerify(ticket, this.key, {
        algorithms: ['HS256'],
        audience: AUDIENCE,
        clockTolerance,
        requiredClaims: use === 'open' ? ['jti', 'exp'] : [],
      });
      if (!payload.sub) throw new Error('no subject');
      const user: AuthUser = { id: payload.sub, claims: { sub: payload.sub, via: 'stream-ticket' } };
      if (use === 'open') user.ticket = { id: payload.jti!, expiresAtMs: payload.exp! * 1000 };
      return user;
    } catch {
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'invalid or expired stream ticket');
    }
  }

  /**
   * Spends the ticket a user opens a stream with, after the rate limits admitted it (a 429 leaves it
   * good); a ticket spent already is refused. A request with a bearer token has none to spend.
   */
  async spend(user: AuthUser): Promise<void> {
    if (!user.ticket) return;
    if (!(await this.spent.claim(user.ticket.id, user.ticket.expiresAtMs))) {
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'stream ticket already used: get a new one');
    }
  }
}
