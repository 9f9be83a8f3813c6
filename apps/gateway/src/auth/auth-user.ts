import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Who is calling: the verified JWT subject. */
export interface AuthUser {
  id: string;
  claims: Record<string, unknown>;
  /** The stream ticket this request opens a stream with, spent once the request is admitted. */
  ticket?: { id: string; expiresAtMs: number };
}

/**
 * `user` once a guard has verified the token; `tokenRefusal` when one already refused it (the
 * rate-limit guard tries the token first to find the caller), so that it is checked once per request.
 */
export type AuthenticatedRequest = FastifyRequest & { user?: AuthUser; tokenRefusal?: Error };

export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthUser => {
  const user = ctx.switchToHttp().getRequest<AuthenticatedRequest>().user;
  if (!user) throw new Error('CurrentUser used on a route without authentication');
  return user;
});
