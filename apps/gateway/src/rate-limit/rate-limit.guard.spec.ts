import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SkipThrottle, Throttle } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { CallerIdentity } from '../auth/caller-identity';
import { JwtVerifier } from '../auth/jwt-verifier';
import { SpentTickets } from '../auth/spent-tickets';
import { StreamTickets } from '../auth/stream-ticket';
import { AppException } from '../errors/app.exception';
import { MetricsService } from '../observability/metrics.service';
import { RedisService } from '../redis/redis.service';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimitStore } from './rate-limit.store';
import { RateLimiter } from './rate-limiter';

const config = AppConfig.fromEnv({
  NODE_ENV: 'test',
  RATE_LIMITS: JSON.stringify([
    { name: 'second', ttl_ms: 1000, limit: 3 },
    { name: 'minute', ttl_ms: 60_000, limit: 100 },
  ]),
});

class Routes {
  plain(): void {}

  @Throttle({ second: { limit: 1, ttl: 5000 } })
  tight(): void {}

  @SkipThrottle({ second: true })
  minuteOnly(): void {}

  @SkipThrottle({ second: true, minute: true })
  none(): void {}

  @Throttle({ hour: { limit: 1, ttl: 3_600_000 } })
  unknownWindow(): void {}
}

@Throttle({ minute: { limit: 2, ttl: 60_000 } })
class StrictRoutes {
  inherited(): void {}
}

describe('RateLimitGuard, per route', () => {
  const store = new RateLimitStore(new RedisService(config), config);
  const guard = new RateLimitGuard(
    { throttlers: [] },
    store,
    new Reflector(),
    new CallerIdentity(
      new Reflector(),
      new JwtVerifier(config),
      new StreamTickets(config, new SpentTickets(new RedisService(config))),
    ),
    new RateLimiter(store, config, new MetricsService()),
  );
  afterAll(() => store.onModuleDestroy());

  /** A request from `user` to a route, and the headers it is answered with. */
  const requestTo = (controller: object, handler: () => void, user: string) => {
    const headers = new Map<string, string | number>();
    const request = { user: { id: user, claims: {} }, headers: {}, body: undefined, ip: '127.0.0.1' };
    const reply = { header: (name: string, value: string | number) => headers.set(name, value) };
    const context = {
      getClass: () => controller,
      getHandler: () => handler,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
    } as unknown as ExecutionContext;
    return { context, headers };
  };
  const hit = async (controller: object, handler: () => void, user: string) => {
    const { context, headers } = requestTo(controller, handler, user);
    const status = await guard.canActivate(context).then(
      () => 200,
      (error: unknown) => {
        if (error instanceof AppException) return error.status;
        throw error;
      },
    );
    return { status, policy: headers.get('ratelimit-policy'), limit: headers.get('ratelimit-limit') };
  };
  const statuses = async (times: number, controller: object, handler: () => void, user: string) => {
    const seen = [];
    for (let i = 0; i < times; i++) seen.push((await hit(controller, handler, user)).status);
    return seen;
  };
  const routes = Routes.prototype;

  it('counts a route without decorators against the configured windows', async () => {
    expect(await statuses(4, Routes, routes.plain, 'u1')).toEqual([200, 200, 200, 429]);
    expect((await hit(Routes, routes.plain, 'u1b')).policy).toBe('3;w=1;name="second", 100;w=60;name="minute"');
  });

  it("applies a route's @Throttle to that window, and shows it in the policy", async () => {
    expect(await statuses(2, Routes, routes.tight, 'u2')).toEqual([200, 429]);
    expect((await hit(Routes, routes.tight, 'u2b')).policy).toBe('1;w=5;name="second", 100;w=60;name="minute"');
  });

  it('leaves out the windows a route skips, and counts nothing when it skips them all', async () => {
    expect(await statuses(5, Routes, routes.minuteOnly, 'u3')).toEqual([200, 200, 200, 200, 200]);
    expect((await hit(Routes, routes.minuteOnly, 'u3')).policy).toBe('100;w=60;name="minute"');
    const none = await hit(Routes, routes.none, 'u4');
    expect(none).toEqual({ status: 200, policy: undefined, limit: undefined });
  });

  it("takes a controller's @Throttle for its routes", async () => {
    expect(await statuses(3, StrictRoutes, StrictRoutes.prototype.inherited, 'u5')).toEqual([200, 200, 429]);
  });

  it('refuses a window RATE_LIMITS does not define, instead of ignoring it', async () => {
    await expect(guard.canActivate(requestTo(Routes, routes.unknownWindow, 'u6').context)).rejects.toThrow(
      'rate limit "hour" set on unknownWindow of Routes is not in RATE_LIMITS (second, minute)',
    );
  });
});
