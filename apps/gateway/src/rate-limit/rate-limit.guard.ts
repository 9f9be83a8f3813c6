import { hash } from 'node:crypto';
import { Injectable, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerStorage, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { InjectThrottlerOptions, InjectThrottlerStorage } from '@nestjs/throttler';
import { CallerIdentity } from '../auth/caller-identity';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { MAX_BATCH_ITEMS } from '../agent/agent.dto';
import { RouteFlag, RouteMemo } from '../common/route-flag';
import { limitsOf, RateLimiter, trackerOf, type Limits } from './rate-limiter';
import { routeWindows } from './route-windows';

/**
 * What a request costs: a batch counts as its number of items. One with more items than a batch may
 * have counts as one: validation refuses it, and it must not use up the caller's limits first.
 */
function costOf(request: AuthenticatedRequest): number {
  const body = request.body as { requests?: unknown } | undefined;
  const items = Array.isArray(body?.requests) ? body.requests.length : 1;
  return items >= 1 && items <= MAX_BATCH_ITEMS ? items : 1;
}

const NO_RATE_LIMIT = 'rateLimit:skip';
const MAX_PLAIN_TRACKER = 128;
/** For probes an orchestrator must always get an answer from. */
export const NoRateLimit = (): ClassDecorator & MethodDecorator => SetMetadata(NO_RATE_LIMIT, true);

/**
 * @nestjs/throttler's guard (its module, options and storage interface) with our store, a cost per
 * request, the standard RateLimit headers, our error shape (429 RATE_LIMITED with Retry-After) and
 * the route's metadata read once.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly exempt: RouteFlag;
  /** Each route's windows: the configured ones, as its @Throttle and @SkipThrottle change them. */
  private readonly routeLimits: RouteMemo<Limits>;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly identity: CallerIdentity,
    private readonly limiter: RateLimiter,
  ) {
    super(options, storage, reflector);
    this.exempt = new RouteFlag(reflector, NO_RATE_LIMIT);
    this.routeLimits = new RouteMemo((handler, controller) =>
      limitsOf(routeWindows(reflector, limiter.defaults.windows, [handler, controller])),
    );
  }

  /**
   * Readable keys (route, limit, caller) instead of throttler's sha256 of the same text, which was a
   * measurable share of a cached answer's cost; only an unusually long caller id is hashed, to keep
   * keys bounded.
   */
  protected override generateKey(context: ExecutionContext, tracker: string, name: string): string {
    const who = tracker.length <= MAX_PLAIN_TRACKER ? tracker : hash('sha256', tracker, 'base64url');
    return `${context.getClass().name}-${context.getHandler().name}-${name}-${who}`;
  }

  /**
   * Throttler's own canActivate reads six metadata keys per limit on every request (for per-route
   * @Throttle / @SkipThrottle overrides): a measurable share of a cached answer. This reads a route's
   * @NoRateLimit and overrides once, finds the caller once, and counts the request against the
   * route's windows with the RateLimiter that WebSocket messages go through too.
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.exempt.isSetOn(context)) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const reply = http.getResponse<FastifyReply>();
    // Before authentication, so that bad and missing tokens are limited too (by IP).
    await this.identity.identify(context, request);
    const tracker = trackerOf(request.user?.id, request.ip);
    const limits = this.routeLimits.of(context);
    await this.limiter.count(
      (name) => this.generateKey(context, tracker, name),
      'http',
      costOf(request),
      reply,
      limits,
    );
    return true;
  }
}
