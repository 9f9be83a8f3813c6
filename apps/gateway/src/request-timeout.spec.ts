import { connect } from 'node:net';
import { startReferenceAgent, type RunningAgent } from '../../../test/support/reference-agent';
import { createTestGateway, type TestGateway } from '../../../test/support/gateway';
import { readSse, sseRequest, WsClient } from '../../../test/support/clients';

/** The JSON body of a raw HTTP answer. */
function errorIn(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

/** A client that sends its request too slowly loses the connection; one whose answer takes long does not. */
describe('HTTP_REQUEST_TIMEOUT_MS', () => {
  let agent: RunningAgent;
  let gw: TestGateway;
  let base: string;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], { HTTP_REQUEST_TIMEOUT_MS: '400' });
    base = await gw.listen();
  });

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  it('answers 408 and closes the connection of a client still sending its body past the timeout', async () => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<number>((resolve) => {
      const started = Date.now();
      socket.on('close', () => resolve(Date.now() - started));
    });
    socket.write(
      'POST /api/v1/agent/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ag',
    );
    const trickle = setInterval(() => socket.write(' '), 50); // a byte now and then: never idle, never done
    const after = await closed;
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorIn(received)).toEqual({
      status: 408,
      code: 'REQUEST_TIMEOUT',
      message: 'the request was not received within HTTP_REQUEST_TIMEOUT_MS',
      request_id: expect.any(String),
    });
    expect(after).toBeGreaterThanOrEqual(400);
    expect(after).toBeLessThan(3000);
  });

  it('answers what is not HTTP, and headers over 16 KB, in the one error shape, then closes', async () => {
    const { port } = new URL(base);
    const exchange = (bytes: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
        socket.on('close', () => resolve(received));
        socket.on('error', () => undefined);
        socket.write(bytes);
      });
    const garbage = await exchange('HELLO THERE\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
    expect(errorIn(garbage)).toMatchObject({ status: 400, code: 'MALFORMED_REQUEST' });
    const huge = await exchange(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(errorIn(huge)).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' });
  });

  it('keeps an idle keep-alive connection past the timeout: only a request being sent is timed', async () => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const get = 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n';
    socket.write(get);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    socket.write(get);
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    expect(received.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
  });

  it('lets a stream run longer than the timeout: its request was complete once sent', async () => {
    const token = await gw.tokenFor('alice');
    const started = Date.now();
    const { events } = await readSse(
      await sseRequest(base, token, {
        agent_id: 'reference',
        query: 'what does a circuit breaker do?',
        options: { ref_tokens_per_second: 20, ref_repeat: 3 },
      }),
    );
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(events.at(-1)!.event).toBe('done');
  });

  it('keeps a WebSocket open past the timeout, and runs a query on it then', async () => {
    const token = await gw.tokenFor('alice');
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/stream`, {
      authorization: `Bearer ${token}`,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    ws.send('query', { agent_id: 'reference', query: 'what is a deadline?' });
    expect(await ws.waitFor((m) => m.event === 'done')).toMatchObject({ event: 'done' });
    ws.close();
  });
});
