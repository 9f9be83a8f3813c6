import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RouteFlag } from '../common/route-flag';
import type { AuthenticatedRequest } from './auth-user';
import { CallerIdentity } from './caller-identity';
import { IS_PUBLIC } from './public.decorator';
import { StreamTickets } from './stream-ticket';

/** Registered globally: every route needs a valid bearer token unless it is marked @Public(). */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  private readonly isPublic: RouteFlag;

  constructor(
    reflector: Reflector,
    private readonly identity: CallerIdentity,
    private readonly tickets: StreamTickets,
  ) {
    this.isPublic = new RouteFlag(reflector, IS_PUBLIC);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic.isSetOn(context)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    // Found already by the rate limiter, which runs first, unless the route is exempt from it.
    await this.identity.identify(context, request);
    if (request.tokenRefusal) throw request.tokenRefusal;
    // Only a stream ticket is spent: a bearer token's request pays no await for it.
    if (request.user!.ticket) await this.tickets.spend(request.user!);
    return true;
  }
}
