import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { DrainState } from '../health/drain-state';
import { MetricsService } from '../observability/metrics.service';
import { PING_INTERVAL_MS, StreamGateway } from './stream.gateway';
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
