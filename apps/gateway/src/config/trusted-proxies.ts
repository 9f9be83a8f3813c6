import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { z } from 'zod';

/** Whether a hop may be believed about the one before it: the address, and its distance from us. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY: which proxies in front of the gateway may say who the client is (X-Forwarded-For):
 * a number of hops, or addresses and CIDR ranges (`loopback`, `linklocal`, `uniquelocal` too).
 * Unset, none: behind a load balancer every client then has its address, so the limits on
 * requests without a valid token are shared by all of them.
 */
export const trustProxySchema = z
  .string()
  .optional()
  .transform((value, ctx): TrustProxy | undefined => {
    const text = value?.trim();
    if (!text) return undefined;
    if (/^\d+$/.test(text)) {
      const hops = Number(text);
      return (_address, hop) => hop < hops;
    }
    try {
      return proxyAddr.compile(text.split(',').map((part) => part.trim()));
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `a hop count, or addresses and CIDR ranges: ${(error as Error).message}`,
      });
      return z.NEVER;
    }
  });

/** The client's address as the trusted proxies tell it, else the peer's (the same as Fastify's request.ip). */
export function clientAddress(request: IncomingMessage, trust: TrustProxy | undefined): string | undefined {
  return trust ? proxyAddr(request, trust) : request.socket.remoteAddress;
}
