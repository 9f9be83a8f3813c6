import { AsyncResource } from 'node:async_hooks';

const kResource = Symbol('asyncResource');
type BindMethod = typeof AsyncResource.prototype.bind;
/**
 * Node's own method, kept on the prototype where every copy of this module finds it (Jest loads one
 * per test file, each with its own globals).
 */
const NATIVE_BIND = Symbol.for('agent-gateway.nativeAsyncResourceBind');
const prototype = AsyncResource.prototype as AsyncResource & { [NATIVE_BIND]?: BindMethod };
let warned = false;

function warnDeprecated(): void {
  if (warned) return;
  warned = true;
  process.emitWarning('The asyncResource property on bound functions is deprecated', 'DeprecationWarning', 'DEP0172');
}

/** The deprecated `asyncResource` property, with one getter and setter shared by every bound function. */
const asyncResourceProperty: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: { [kResource]: AsyncResource }) {
    warnDeprecated();
    return this[kResource];
  },
  set(this: { [kResource]: AsyncResource }, resource: AsyncResource) {
    warnDeprecated();
    this[kResource] = resource;
  },
};

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

function bindTo(resource: AsyncResource, fn: AnyFunction, thisArg: unknown): AnyFunction {
  if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
  Object.defineProperty(bound, kResource, { configurable: true, enumerable: false, writable: true, value: resource });
  Object.defineProperty(bound, 'asyncResource', asyncResourceProperty);
  return bound;
}

function bind(this: AsyncResource, fn: AnyFunction, thisArg?: unknown): AnyFunction {
  return bindTo(this, fn, thisArg);
}

/** True where Node builds two fresh deprecation wrappers for every bound function (Node 20, among others). */
function bindIsSlow(): boolean {
  const resource = new AsyncResource('probe');
  const getter = (f: () => void) => (Object.getOwnPropertyDescriptor(f, 'asyncResource') as { get?: unknown })?.get;
  const first = getter(resource.bind(() => undefined));
  return first !== undefined && first !== getter(resource.bind(() => undefined));
}

/**
 * Fastify's body parser, Nest's interceptor chain and Node's HTTP/2 client call `AsyncResource#bind`
 * on every request, and on Node 20 each call builds two `util.deprecate` wrappers for the deprecated
 * `asyncResource` property: about 8 % of the CPU of an uncached query (nodejs/node#58218, fixed in
 * later Node 24 releases). This replaces the method with the same behaviour (context, `this`,
 * `length`, the property and its DEP0172 warning) built from shared pieces. Does nothing where
 * Node is already fast.
 */
export function useFastAsyncResourceBind(): void {
  if (!bindIsSlow()) return;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back, never called unbound
  Object.defineProperty(prototype, NATIVE_BIND, { configurable: true, value: prototype.bind });
  prototype.bind = bind as BindMethod;
}

/** Node's own method, where it was replaced (for tests). */
export function nativeAsyncResourceBind(): BindMethod | undefined {
  return prototype[NATIVE_BIND];
}
