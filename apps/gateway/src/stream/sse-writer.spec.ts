import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyReply } from 'fastify';
import { DrainState } from '../health/drain-state';
import { Run } from './run';
import { writeRunAsSse } from './sse-writer';

describe('writeRunAsSse', () => {
  let server: Server;

  afterEach(() => new Promise((resolve) => server.close(resolve)));

  /** A real response whose client hung up before the stream was written (while the run was set up). */
  async function responseOfGoneClient(): Promise<ServerResponse> {
    const response = new Promise<ServerResponse>((resolve) => {
      server = createServer((_req, res) => res.once('close', () => resolve(res)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = request({ port: (server.address() as AddressInfo).port, method: 'POST' });
    client.on('error', () => undefined);
    client.flushHeaders();
    setTimeout(() => client.destroy(), 50);
    return response;
  }

  it('lets go of the run at once when the client left before the stream began', async () => {
    const raw = await responseOfGoneClient();
    const reply = { raw, hijack: () => undefined, getHeaders: () => ({}) } as unknown as FastifyReply;
    const run = new Run('r', 'u', 'a', null);
    run.push('start', {});
    let detached = false;
    const writing = writeRunAsSse(run, -1, reply, {
      heartbeatMs: 60_000,
      retryMs: 1000,
      drain: new DrainState(),
      detach: () => (detached = true),
    }).then(() => 'let go');
    const held = new Promise((resolve) => setTimeout(() => resolve('held until the run ends'), 1000).unref());
    expect(await Promise.race([writing, held])).toBe('let go');
    expect(detached).toBe(true);
    run.push('done', {}); // (what would have let it go otherwise)
    await writing;
  });
});
