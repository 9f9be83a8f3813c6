import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import { nativeAsyncResourceBind, useFastAsyncResourceBind } from './async-resource-bind';

describe('useFastAsyncResourceBind', () => {
  const before = AsyncResource.prototype.bind;
  beforeAll(() => {
    // Another test file's app may have patched it already, with its own copy of this module.
    AsyncResource.prototype.bind = nativeAsyncResourceBind() ?? before;
    useFastAsyncResourceBind();
  });
  afterAll(() => {
    AsyncResource.prototype.bind = before;
  });

  it('no longer builds deprecation wrappers per bound function', () => {
    const resource = new AsyncResource('test');
    const getter = (f: () => void) => Object.getOwnPropertyDescriptor(f, 'asyncResource')?.get;
    expect(getter(resource.bind(() => undefined))).toBe(getter(resource.bind(() => undefined)));
  });

  it('runs the bound function in the context it was bound in, as Node does', async () => {
    const storage = new AsyncLocalStorage<string>();
    const bound = storage.run('request-1', () => AsyncResource.bind(() => storage.getStore()));
    const seen = await storage.run('request-2', () => new Promise((resolve) => setImmediate(() => resolve(bound()))));
    expect(seen).toBe('request-1');
  });

  it('runs it in the resource’s own async scope, with its arguments and return value', () => {
    const resource = new AsyncResource('test');
    const bound = resource.bind((a: number, b: number) => [a + b, executionAsyncId()]);
    expect(bound(2, 3)).toEqual([5, resource.asyncId()]);
  });

  it('passes the call-time `this` unless one was given, and keeps `length`', () => {
    const resource = new AsyncResource('test');
    function whoAmI(this: unknown, _a: unknown, _b: unknown) {
      return this;
    }
    const target = { whoAmI: resource.bind(whoAmI) };
    expect(target.whoAmI(1, 2)).toBe(target);
    const fixed = { name: 'fixed' };
    // `thisArg` is documented (asyncResource.bind(fn[, thisArg])) but missing from @types/node.
    const bindWithThis = resource.bind.bind(resource) as (fn: typeof whoAmI, thisArg: unknown) => typeof whoAmI;
    expect(bindWithThis(whoAmI, fixed).call(target, 1, 2)).toBe(fixed);
    expect(resource.bind(whoAmI).length).toBe(2);
  });

  it('keeps the deprecated asyncResource property where Node has it, warning once (DEP0172)', () => {
    // Node 26 removed it; there, bound functions have none (the fast method is not used there either).
    const nodeBind = nativeAsyncResourceBind() ?? before;
    const nodeHasIt = 'asyncResource' in nodeBind.call(new AsyncResource('probe'), () => undefined);
    const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const resource = new AsyncResource('test');
    const bound = resource.bind(() => undefined) as (() => void) & { asyncResource?: AsyncResource };
    expect(bound.asyncResource).toBe(nodeHasIt ? resource : undefined);
    expect(bound.asyncResource).toBe(nodeHasIt ? resource : undefined);
    expect(warnings.mock.calls.filter((c) => (c as unknown[])[2] === 'DEP0172')).toHaveLength(nodeHasIt ? 1 : 0);
    warnings.mockRestore();
  });

  it('rejects a non-function like Node does', () => {
    expect(() => new AsyncResource('test').bind(42 as unknown as () => void)).toThrow(
      'The "fn" argument must be of type function',
    );
  });
});
