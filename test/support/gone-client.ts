import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real response whose client hung up before the handler wrote anything (as while guards or a
 * session lookup were awaited): its 'close' has been emitted already. `close()` stops the server.
 */
export async function responseOfGoneClient(): Promise<{ response: ServerResponse; close: () => Promise<void> }> {
  let server!: Server;
  const response = new Promise<ServerResponse>((resolve) => {
    server = createServer((_req, res) => {
      res.once('close', () => resolve(res));
      // The client leaves once its request has arrived (a timer instead could fire first on a busy
      // machine, and then no request would ever reach the server).
      client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = request({ port: (server.address() as AddressInfo).port, method: 'POST' });
  client.on('error', () => undefined);
  client.flushHeaders();
  return { response: await response, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
