import { randomUUID } from 'node:crypto';
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { RawData, WebSocket } from 'ws';
import { MetricsService } from '../observability/metrics.service';
import { RateLimiter, trackerOf } from '../rate-limit/rate-limiter';
import { CancelSignal } from '../common/cancel-signal';
import { describeZodError, mapErrorLogged } from '../errors/all-exceptions.filter';
import { ErrorCode } from '../errors/error-code';
import { DrainState } from '../health/drain-state';
import type { Run, RunCursor } from './run';
import { OpenStreams } from './open-streams';
import { RunRegistry } from './run-registry';
import { StreamService } from './stream.service';
import { wsMessageSchema, type WsMessage } from './stream.dto';
import type { UpgradeRequest } from './ws-auth.adapter';

/** Past this much unsent data on a socket, stop reading runs until it drains (the runs keep the events). */
const HIGH_WATER_BYTES = 1024 * 1024;
export const PING_INTERVAL_MS = 30_000;

/** One client's socket and what it reads. */
interface Connection {
  socket: WebSocket;
  userId: string;
  id: string;
  /** The run readers on this socket, by run id. */
  readers: Map<string, RunCursor>;
  /** False from a ping until its pong: a socket still false at the next ping is dead. */
  alive: boolean;
  /** Cancelled when the socket closes: ends what it follows from other replicas (made at its first resume). */
  closed?: CancelSignal;
}

/**
 * WebSocket streaming at /api/v1/stream: `{event, data}` messages; several runs per socket.
 * Client → server: query, cancel, resume. Server → client: start, chunk, done, error, reconnect.
 */
@WebSocketGateway({ path: '/api/v1/stream' })
export class StreamGateway implements OnGatewayConnection, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(StreamGateway.name);
  /** The open sockets, pinged and told of a drain all at once. */
  private readonly connections: OpenStreams<Connection>;

  constructor(
    private readonly streams: StreamService,
    private readonly registry: RunRegistry,
    drain: DrainState,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
  ) {
    this.connections = new OpenStreams({ everyMs: PING_INTERVAL_MS, tick: pingOrDrop, drain, onDrain: moveOn });
  }

  onModuleInit(): void {
    this.connections.start();
  }

  onModuleDestroy(): void {
    this.connections.stop();
  }

  handleConnection(socket: WebSocket, request: UpgradeRequest): void {
    const user = request.user;
    if (!user) return socket.close(1008, 'unauthenticated');
    const connection: Connection = {
      socket,
      userId: user.id,
      id: randomUUID(),
      readers: new Map(),
      alive: true,
    };
    if (!this.connections.add(connection)) return; // draining: told to reconnect elsewhere, and closed
    this.metrics.webSockets.inc();
    socket.on('pong', () => (connection.alive = true));
    socket.on('message', (data: RawData, isBinary: boolean) => void this.onMessage(connection, data, isBinary));
    socket.on('close', () => {
      this.connections.delete(connection);
      this.metrics.webSockets.dec();
      connection.closed?.cancel();
      for (const reader of connection.readers.values()) reader.stop();
    });
  }

  private async onMessage(connection: Connection, data: RawData, isBinary: boolean): Promise<void> {
    const { socket, userId, id, readers } = connection;
    let message: WsMessage;
    try {
      if (isBinary) throw new Error('binary frames are not accepted');
      const parsed = wsMessageSchema.safeParse(JSON.parse(textOf(data)));
      if (!parsed.success) throw new Error(describeZodError(parsed.error));
      message = parsed.data;
    } catch (error) {
      // The codes of an HTTP request's body: text that is not JSON is MALFORMED_JSON there too.
      const malformed = error instanceof SyntaxError;
      return send(socket, 'error', {
        code: malformed ? ErrorCode.MALFORMED_JSON : ErrorCode.VALIDATION_FAILED,
        status: 400,
        message: malformed ? 'frame is not valid JSON' : (error as Error).message,
      });
    }
    try {
      // Every message asks for work, like an HTTP request: each counts against the limits.
      await this.limiter.consume(trackerOf(userId), 'ws');
      switch (message.event) {
        case 'query': {
          const run = await this.streams.start(message.data, { userId, requestId: `ws-${id}-${randomUUID()}` });
          return this.read(socket, run, -1, readers);
        }
        case 'resume': {
          connection.closed ??= new CancelSignal();
          const run = await this.streams.find(message.data.run_id, userId, connection.closed);
          readers.get(run.id)?.stop();
          return this.read(socket, run, message.data.after_seq, readers);
        }
        case 'cancel':
          return await this.streams.cancel(message.data.run_id, userId);
      }
    } catch (error) {
      const { body } = mapErrorLogged(this.logger, error, { connection_id: id, event: message.event });
      send(socket, 'error', {
        ...body,
        run_id: 'data' in message && 'run_id' in message.data ? message.data.run_id : null,
      });
    }
  }

  private async read(socket: WebSocket, run: Run, afterSeq: number, readers: Map<string, RunCursor>): Promise<void> {
    const detach = this.registry.attach(run);
    const reader = run.follow(afterSeq, (event) =>
      sendWithBackpressure(socket, event.event, { ...event.data, seq: event.seq }, () => reader.resume()),
    );
    readers.set(run.id, reader);
    try {
      await reader.ended;
    } catch (error) {
      this.logger.debug({ err: (error as Error).message, run_id: run.id }, 'websocket reader stopped');
    } finally {
      detach();
      if (readers.get(run.id) === reader) readers.delete(run.id);
    }
  }
}

/** Pings a socket; one that did not answer the previous ping is dead (a peer gone without a close). */
function pingOrDrop(connection: Connection): void {
  if (!connection.alive) return connection.socket.terminate();
  connection.alive = false;
  connection.socket.ping();
}

/** On drain: where each run on the socket got to, for resuming on another replica, then a close. */
function moveOn({ socket, readers }: Connection): void {
  const runs = [...readers].map(([run_id, reader]) => ({ run_id, last_seq: reader.position }));
  send(socket, 'reconnect', { runs });
  socket.close(1012, 'service restart');
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(new Uint8Array(data)).toString('utf8');
}

function send(socket: WebSocket, event: string, data: Record<string, unknown>): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event, data }));
}

/**
 * Sends an event; false when the socket's buffer is past the high-water mark, and then `written`
 * runs once this frame has gone out (or failed: the next send sees the closed socket and throws).
 */
function sendWithBackpressure(
  socket: WebSocket,
  event: string,
  data: Record<string, unknown>,
  written: () => void,
): boolean {
  if (socket.readyState !== socket.OPEN) throw new Error('socket closed');
  const frame = JSON.stringify({ event, data });
  if (socket.bufferedAmount < HIGH_WATER_BYTES) {
    socket.send(frame);
    return true;
  }
  socket.send(frame, written);
  return false;
}
