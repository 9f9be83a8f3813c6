import { startReferenceAgent, type RunningAgent } from '../../../test/support/reference-agent';
import { createTestGateway, type TestGateway } from '../../../test/support/gateway';
import { readSse } from '../../../test/support/clients';

const APP = 'https://app.example';

/** What a browser app served from another origin needs: preflights, and headers its scripts may read. */
describe('CORS', () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await startReferenceAgent();
  });

  afterAll(() => agent.stop());

  const preflight = (gw: TestGateway, origin: string) =>
    gw.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/agent/query',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  describe('with ALLOWED_ORIGINS', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
        ALLOWED_ORIGINS: `${APP}, https://admin.example`,
        // One request a minute: a preflight must not use it up.
        RATE_LIMITS: JSON.stringify([{ name: 'minute', ttl_ms: 60_000, limit: 3 }]),
      });
    });

    afterAll(() => gw.close());

    it('answers a preflight from an allowed origin without a token, before rate limits', async () => {
      for (let i = 0; i < 5; i++) {
        const res = await preflight(gw, APP);
        expect(res.statusCode).toBe(204);
        expect(res.headers).toMatchObject({
          'access-control-allow-origin': APP,
          'access-control-allow-methods': 'GET, POST, PATCH, DELETE',
          'access-control-allow-headers': expect.stringContaining('authorization, content-type'),
        });
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      }
    });

    it('lets an allowed origin read the answer and the headers it acts on; tells another nothing', async () => {
      const token = await gw.tokenFor('alice');
      const ask = (origin: string) =>
        gw.app.inject({
          method: 'POST',
          url: '/api/v1/agent/query',
          headers: { origin, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: JSON.stringify({ agent_id: 'reference', query: 'How do I get a token?' }),
        });
      const allowed = await ask(APP);
      expect(allowed.statusCode).toBe(200);
      expect(allowed.headers['access-control-allow-origin']).toBe(APP);
      expect(allowed.headers.vary).toMatch(/origin/i);
      const exposed = String(allowed.headers['access-control-expose-headers']).split(', ');
      expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'retry-after', 'ratelimit-remaining']));

      const other = await ask('https://evil.example');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      expect((await preflight(gw, 'https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    });

    it('lets an EventSource from an allowed origin read a stream opened with a ticket', async () => {
      const base = await gw.listen();
      const token = await gw.tokenFor('bob');
      const ticketRes = await fetch(`${base}/api/v1/agent/stream/ticket`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, origin: APP },
      });
      expect(ticketRes.headers.get('access-control-allow-origin')).toBe(APP);
      const { ticket } = (await ticketRes.json()) as { ticket: string };
      const stream = await fetch(`${base}/api/v1/agent/stream?agent_id=reference&query=deadline&ticket=${ticket}`, {
        headers: { origin: APP, accept: 'text/event-stream' },
      });
      expect(stream.headers.get('access-control-allow-origin')).toBe(APP);
      const { events } = await readSse(stream);
      expect(events.at(-1)?.event).toBe('done');
    });
  });

  it('adds nothing in production unless origins are named', async () => {
    const gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
      NODE_ENV: 'production',
      JWT_SECRET: 'a-production-secret-0123456789-abcdefghij',
    });
    try {
      const res = await preflight(gw, APP);
      expect(res.statusCode).toBe(404);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await gw.close();
    }
  });
});
