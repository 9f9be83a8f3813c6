import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- Nest's own type for handlers and controllers
type RouteTarget = Function;

/**
 * What a route's decorators say (on the method, else its controller), worked out once per route:
 * Nest's Reflector walks the metadata again on every call, and guards ask on every request (about
 * 2 % of a cached answer's cost for one flag).
 */
export class RouteMemo<T> {
  /** Per controller, then per handler: an inherited method is one function under two controllers. */
  private readonly byRoute = new WeakMap<object, WeakMap<object, T>>();

  constructor(private readonly compute: (handler: RouteTarget, controller: RouteTarget) => T) {}

  of(context: ExecutionContext): T {
    const controller = context.getClass();
    const handler = context.getHandler();
    let handlers = this.byRoute.get(controller);
    if (!handlers) this.byRoute.set(controller, (handlers = new WeakMap()));
    if (!handlers.has(handler)) handlers.set(handler, this.compute(handler, controller));
    return handlers.get(handler)!;
  }
}

/** A boolean set on a route by a decorator, read once per route. */
export class RouteFlag {
  private readonly memo: RouteMemo<boolean>;

  constructor(reflector: Reflector, key: string) {
    this.memo = new RouteMemo(
      (handler, controller) => reflector.getAllAndOverride<boolean>(key, [handler, controller]) === true,
    );
  }

  isSetOn(context: ExecutionContext): boolean {
    return this.memo.of(context);
  }
}
