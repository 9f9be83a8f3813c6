import type { IncomingMessage } from 'node:http';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { WebSocketServer } from 'ws';
import type { AuthUser } from '../auth/auth-user';
import { CallerIdentity } from '../auth/caller-identity';
import { StreamTickets } from '../auth/stream-ticket';
import { clientAddress } from '../config/trusted-proxies';
import { AppConfig } from '../config/app-config';
import { mapErrorLogged } from '../errors/all-exceptions.filter';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { REQUEST_ID_HEADER, requestIdFor } from '../observability/request-id';
import { RateLimiter, trackerOf } from '../rate-limit/rate-limiter';
import { SocketQuota } from './socket-quota';

export type UpgradeRequest = IncomingMessage & {
  user?: AuthUser;
  /** RateLimit-* for the upgrade's answer (101 or 429), as the HTTP routes send them. */
  rateLimitHeaders?: Map<string, string | number>;
};

const MAX_FRAME_BYTES = 64 * 1024;

/** `ws`'s verifyClient callback: admit, or refuse with a status, a body and headers. */
type UpgradeVerdict = (ok: boolean, code?: number, body?: string, headers?: Record<string, string>) => void;

/**
 * Plain `ws`, with the handshake checked before the upgrade: a bad Origin gets 403, a caller over
 * its rate limit 429 (counted like an HTTP request: by user, or by IP without a valid token), and a
 * missing or bad token 401, so an unauthenticated client never holds an open socket.
 */
export class AuthenticatedWsAdapter extends WsAdapter {
  private readonly upgradeLogger = new Logger('WebSocketUpgrade');
  private readonly identity: CallerIdentity;
  private readonly tickets: StreamTickets;
  private readonly config: AppConfig;
  private readonly limiter: RateLimiter;
  private readonly sockets: SocketQuota;

  constructor(app: INestApplicationContext) {
    super(app);
    this.identity = app.get(CallerIdentity);
    this.tickets = app.get(StreamTickets);
    this.config = app.get(AppConfig);
    this.limiter = app.get(RateLimiter);
    this.sockets = app.get(SocketQuota);
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    const server = super.create(port, {
      ...options,
      maxPayload: MAX_FRAME_BYTES,
      verifyClient: (info: { req: UpgradeRequest; origin?: string }, done: UpgradeVerdict) => {
        if (!this.originAllowed(info.origin)) {
          return this.refuse(info.req, new AppException(ErrorCode.FORBIDDEN, 'origin not allowed'), done);
        }
        this.admit(info.req).then(
          () => done(true),
          (refusal: unknown) => this.refuse(info.req, refusal, done),
        );
      },
    }) as WebSocketServer;
    server.on('headers', (headers: string[], req: UpgradeRequest) => {
      for (const [name, value] of req.rateLimitHeaders ?? []) headers.push(`${name}: ${value}`);
    });
    return server;
  }

  /**
   * Nest's own message routing, for `@SubscribeMessage` handlers: the gateway has none (StreamGateway
   * reads its socket itself), and for each socket it would still build an rxjs pipeline (a few KB held
   * as long as the socket is open) and parse every message a second time, failing with an Error.
   */
  override bindMessageHandlers(...args: Parameters<WsAdapter['bindMessageHandlers']>): void {
    const [, handlers] = args;
    if (handlers.length > 0) super.bindMessageHandlers(...args);
  }

  /**
   * A refused upgrade is answered like a refused request: the status, the JSON error body with a
   * request id (the caller's X-Request-Id if acceptable), Retry-After and the RateLimit headers.
   */
  private refuse(req: UpgradeRequest, refusal: unknown, done: UpgradeVerdict): void {
    const requestId = requestIdFor(req);
    // Not the URL: a stream ticket may be in its query.
    const { body, retryAfterSeconds } = mapErrorLogged(this.upgradeLogger, refusal, {
      request_id: requestId,
      remote_address: clientAddress(req, this.config.http.trustProxy),
    });
    const headers: Record<string, string> = {
      ...(Object.fromEntries(req.rateLimitHeaders ?? []) as Record<string, string>),
      'Content-Type': 'application/json; charset=utf-8', // ws's name for it, so that this replaces its text/html
      [REQUEST_ID_HEADER]: requestId,
    };
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    done(false, body.status, JSON.stringify({ ...body, request_id: requestId }), headers);
  }

  /**
   * Counts the upgrade against the caller's limits, then lets in only a valid token or unspent ticket of a
   * user with a WebSocket place left (taken before the ticket is spent, so that a 429 leaves it good).
   */
  private async admit(req: UpgradeRequest): Promise<void> {
    // The token's verdict waits until the upgrade is counted (by IP when it is bad), then is the answer.
    const verdict = await this.authenticate(req).then(
      (user) => ({ user }),
      (refusal: unknown) => ({ user: undefined, refusal }),
    );
    const tracker = trackerOf(verdict.user?.id, clientAddress(req, this.config.http.trustProxy));
    const headers = (req.rateLimitHeaders = new Map<string, string | number>());
    await this.limiter.consume(tracker, 'ws-upgrade', 1, { header: (name, value) => headers.set(name, value) });
    if (!verdict.user) throw verdict.refusal;
    this.sockets.take(verdict.user.id, req.socket);
    await this.tickets.spend(verdict.user);
    req.user = verdict.user;
  }

  /** A bearer token, or a ticket (which opens the socket: messages may then open or resume runs). */
  private authenticate(req: UpgradeRequest): Promise<AuthUser> {
    const ticket = new URL(req.url ?? '/', 'http://gateway').searchParams.get('ticket');
    return this.identity.authenticate(req.headers.authorization, ticket || undefined, () => 'open');
  }

  /** Non-browser clients send no Origin. Browsers must come from ALLOWED_ORIGINS (any, in development, if unset). */
  private originAllowed(origin: string | undefined): boolean {
    if (!origin) return true;
    const allowed = this.config.http.allowedOrigins;
    return allowed === '*' || allowed.includes(origin);
  }
}
