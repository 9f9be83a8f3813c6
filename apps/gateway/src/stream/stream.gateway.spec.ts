import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { eventually } from '../../../../test/support/clients';
import { ErrorCode } from '../errors/error-code';
import type { RateLimiter } from '../rate-limit/rate-limiter';
import { DrainState } from '../health/drain-state';
import { MetricsService } from '../observability/metrics.service';
import { PING_INTERVAL_MS, StreamGateway } from './stream.gateway';
import type { StreamService } from './stream.service';
import type { UpgradeRequest } from './ws-auth.adapter';

/** What the gateway does to a socket, recorded; `pong` answers its last ping. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  readonly did: string[] = [];
  readonly sent: { event: string; data: unknown }[] = [];
  ping = () => void this.did.push('ping');
  terminate = () => void this.did.push('terminate');
  close = (code: number) => void this.did.push(`close ${code}`);
  send = (frame: string) => void this.sent.push(JSON.parse(frame) as { event: string; data: unknown });
  pong = () => void this.emit('pong');
}

describe('StreamGateway, for its open sockets', () => {
  let drain: DrainState;
  let gateway: StreamGateway;
  const connect = () => {
    const socket = new FakeSocket();
    const request = { user: { id: 'alice', claims: {} } } as unknown as UpgradeRequest;
    gateway.handleConnection(socket as unknown as WebSocket, request);
    return socket;
  };

  beforeEach(() => {
    jest.useFakeTimers();
    drain = new DrainState();
    // Only queries use the rest; none is sent here.
    const unused = {} as never;
    gateway = new StreamGateway(unused, unused, drain, unused, new MetricsService());
    gateway.onModuleInit();
  });

  afterEach(() => {
    gateway.onModuleDestroy();
    jest.useRealTimers();
  });

  it('pings every socket, and drops one that did not answer the previous ping (a peer gone silently)', () => {
    const answering = connect();
    const silent = connect();
    jest.advanceTimersByTime(PING_INTERVAL_MS);
    expect([answering.did, silent.did]).toEqual([['ping'], ['ping']]);
    answering.pong();
    jest.advanceTimersByTime(PING_INTERVAL_MS);
    expect([answering.did, silent.did]).toEqual([
      ['ping', 'ping'],
      ['ping', 'terminate'],
    ]);
  });

  it('stops pinging a socket once it has closed', () => {
    const socket = connect();
    socket.emit('close');
    jest.advanceTimersByTime(3 * PING_INTERVAL_MS);
    expect(socket.did).toEqual([]);
  });

  it('tells every socket to reconnect elsewhere when the gateway drains, and one that connects after at once', () => {
    const open = connect();
    drain.begin();
    const late = connect();
    for (const socket of [open, late]) {
      expect(socket.sent).toEqual([{ event: 'reconnect', data: { runs: [] } }]);
      expect(socket.did).toEqual(['close 1012']);
    }
  });
});

describe('StreamGateway, for a message that fails', () => {
  afterEach(() => jest.restoreAllMocks());

  it('answers a fault of ours with INTERNAL and logs its cause, which the client never sees', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const streams = { start: () => Promise.reject(bug) } as unknown as StreamService;
    const limiter = { consume: () => Promise.resolve() } as unknown as RateLimiter;
    const gateway = new StreamGateway(streams, {} as never, new DrainState(), limiter, new MetricsService());
    const socket = new FakeSocket();
    gateway.handleConnection(socket as unknown as WebSocket, { user: { id: 'alice' } } as unknown as UpgradeRequest);
    const query = { event: 'query', data: { agent_id: 'reference', query: 'hi' } };
    socket.emit('message', Buffer.from(JSON.stringify(query)), false);
    await eventually(() => socket.sent.length > 0);
    expect(socket.sent).toEqual([
      { event: 'error', data: expect.objectContaining({ code: ErrorCode.INTERNAL, message: 'internal error' }) },
    ]);
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: bug, event: 'query' }), 'unhandled error');
    gateway.onModuleDestroy();
  });
});
