import { EventEmitter } from 'node:events';
import { EMPTY } from 'rxjs';
import { AuthenticatedWsAdapter } from './ws-auth.adapter';

/** The adapter without an app: only what Nest calls for each socket is used here, not the handshake. */
const adapter = () => new AuthenticatedWsAdapter({ get: () => ({}) } as never);

describe('AuthenticatedWsAdapter, for each socket', () => {
  it('leaves the socket to StreamGateway when no @SubscribeMessage handler exists', () => {
    const socket = new EventEmitter();
    adapter().bindMessageHandlers(socket, [], () => EMPTY);
    // Nest's routing would keep an rxjs pipeline on these for as long as the socket is open.
    expect([socket.listenerCount('message'), socket.listenerCount('close')]).toEqual([0, 0]);
  });

  it('still routes messages to @SubscribeMessage handlers, should a gateway declare one', () => {
    const socket = new EventEmitter();
    const seen: unknown[] = [];
    const handler = {
      message: 'ping',
      methodName: 'ping',
      callback: (data: unknown) => Promise.resolve(seen.push(data)),
      isAckHandledManually: false,
    };
    adapter().bindMessageHandlers(socket, [handler], () => EMPTY);
    socket.emit('message', { data: JSON.stringify({ event: 'ping', data: 1 }) });
    expect(seen).toEqual([1]);
  });
});
