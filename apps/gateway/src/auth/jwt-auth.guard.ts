import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { RouteFlag } from '../common/route-flag';
import type { AuthenticatedRequest } from './auth-user';
import { JwtVerifier } from './jwt-verifier';
import { IS_PUBLIC } from './public.decorator';
import { ACCEPTS_STREAM_TICKET, StreamTickets } from './stream-ticket';

/** Registered globally: every route needs a valid bearer token unless it is marked @Public(). */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  private readonly isPublic: RouteFlag;
  /** Only routes marked @AcceptsStreamTicket() take `?ticket=`; every other route needs the header. */
  private readonly acceptsTicket: RouteFlag;

  constructor(
    reflector: Reflector,
    private readonly verifier: JwtVerifier,
    private readonly tickets: StreamTickets,
  ) {
    this.isPublic = new RouteFlag(reflector, IS_PUBLIC);
    this.acceptsTicket = new RouteFlag(reflector, ACCEPTS_STREAM_TICKET);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic.isSetOn(context)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.user) return true; // verified already by the rate limiter, which runs first
    const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
    if (!request.headers.authorization && typeof ticket === 'string' && this.acceptsTicket.isSetOn(context)) {
      const userId = await this.tickets.verify(ticket);
      request.user = { id: userId, claims: { sub: userId, via: 'stream-ticket' } };
      return true;
    }
    if (request.tokenRefusal) throw request.tokenRefusal;
    request.user = await this.verifier.verify(bearerToken(request.headers.authorization));
    return true;
  }
}

export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) throw new AppException(ErrorCode.UNAUTHENTICATED, 'missing bearer token');
  return match[1];
}
