import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { IS_PUBLIC } from '../../apps/gateway/src/auth/public.decorator';
import type { TestGateway } from './gateway';

export interface Route {
  method: string;
  path: string;
  isPublic: boolean;
}

/** Every HTTP route of the app, from the controllers' metadata. */
export function discoverRoutes(gw: TestGateway): Route[] {
  const discovery = new DiscoveryService(gw.app.get(ModulesContainer));
  const scanner = new MetadataScanner();
  const reflector = gw.app.get(Reflector);
  const routes: Route[] = [];
  for (const wrapper of discovery.getControllers()) {
    const { instance, metatype } = wrapper;
    if (!instance || !metatype) continue;
    const base = String(reflector.get<string>(PATH_METADATA, metatype) ?? '');
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as () => unknown;
      const path = reflector.get<string | undefined>(PATH_METADATA, handler);
      if (path === undefined) continue;
      const method = RequestMethod[reflector.get<RequestMethod>(METHOD_METADATA, handler)];
      const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/');
      const isPublic = Boolean(reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler, metatype]));
      routes.push({ method, path: full, isPublic });
    }
  }
  return routes;
}
