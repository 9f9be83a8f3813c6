import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RouteMemo } from '../common/route-flag';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import type { AuthenticatedRequest, AuthUser } from './auth-user';
import { JwtVerifier } from './jwt-verifier';
import { ACCEPTS_STREAM_TICKET, StreamTickets, type TicketRoute, type TicketUse } from './stream-ticket';

/**
 * Who is calling, found once per request for both global guards: the rate limiter, which runs first
 * and counts the caller (a stream ticket's user too: by IP, every EventSource behind one proxy would
 * share a single allowance), and the auth guard, which answers with the verdict.
 */
@Injectable()
export class CallerIdentity {
  /** Only routes marked @AcceptsStreamTicket() take `?ticket=`; every other route needs the header. */
  private readonly ticketUse: RouteMemo<TicketRoute | undefined>;

  constructor(
    reflector: Reflector,
    private readonly verifier: JwtVerifier,
    private readonly tickets: StreamTickets,
  ) {
    this.ticketUse = new RouteMemo((handler, controller) =>
      reflector.getAllAndOverride<TicketRoute>(ACCEPTS_STREAM_TICKET, [handler, controller]),
    );
  }

  /** Sets `request.user`, or `request.tokenRefusal` (the 401 to answer with); never throws. */
  async identify(context: ExecutionContext, request: AuthenticatedRequest): Promise<void> {
    if (request.user || request.tokenRefusal) return;
    try {
      request.user = await this.verify(context, request);
    } catch (refusal) {
      request.tokenRefusal = refusal as Error;
    }
  }

  /**
   * The user of a bearer token, or without one, of a stream ticket where `ticketUse` says the
   * ticket is taken (and how): for requests here, and for WebSocket upgrades.
   */
  async authenticate(
    authorization: string | undefined,
    ticket: string | undefined,
    ticketUse: () => TicketUse | undefined,
  ): Promise<AuthUser> {
    if (ticket !== undefined && !authorization) {
      const use = ticketUse();
      if (use) return this.tickets.verify(ticket, use);
    }
    return this.verifier.verify(bearerToken(authorization));
  }

  private verify(context: ExecutionContext, request: AuthenticatedRequest): Promise<AuthUser> {
    const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
    return this.authenticate(request.headers.authorization, typeof ticket === 'string' ? ticket : undefined, () => {
      const route = this.ticketUse.of(context);
      // A Last-Event-ID resumes the run it names, and never opens one (the stream controller's rule).
      return route === 'open-or-resume' ? (request.headers['last-event-id'] ? 'resume' : 'open') : route;
    });
  }
}

export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) throw new AppException(ErrorCode.UNAUTHENTICATED, 'missing bearer token');
  return match[1];
}
