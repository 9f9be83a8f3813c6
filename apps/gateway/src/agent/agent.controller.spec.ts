import { Readable } from 'node:stream';
import { startReferenceAgent, type RunningAgent } from '../../../../test/support/reference-agent';
import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { rsaKeyPair, sign } from '../../../../test/support/tokens';
import { JwtVerifier } from '../auth/jwt-verifier';
import { MAX_BATCH_ITEMS, MAX_QUERY_CHARS } from './agent.dto';

describe('AgentController through the real pipeline', () => {
  let agent: RunningAgent;
  let gw: TestGateway;
  let token: string;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    gw = await createTestGateway(
      [
        { id: 'reference', targets: [agent.target] },
        { id: 'down', targets: ['127.0.0.1:1'], deadline_ms: 2000 },
      ],
      { MAX_BODY_BYTES: '65536', BATCH_CONCURRENCY: '2' },
    );
    token = await gw.tokenFor('alice');
  });
  afterAll(async () => {
    await gw.close();
    await agent.stop();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    gw.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      payload:
        typeof payload === 'string' || payload instanceof Uint8Array || payload instanceof Readable
          ? payload
          : JSON.stringify(payload),
    });

  describe('POST /api/v1/agent/query', () => {
    it('answers with sources, usage and latency', async () => {
      const res = await post('/api/v1/agent/query', {
        agent_id: 'reference',
        query: 'what happens when a deadline passes?',
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ agent_id: 'reference', id: expect.any(String), latency_ms: expect.any(Number) });
      expect(body.answer).toMatch(/deadline/i);
      expect(body.sources[0]).toMatchObject({ title: 'Agents', score: expect.any(Number) });
      expect(body.usage.total_tokens).toBeGreaterThan(0);
    });

    it("tells every cache, a browser's own included, to keep no answer, error or probe, and browsers not to sniff", async () => {
      const responses = [
        await post('/api/v1/agent/query', { agent_id: 'reference', query: 'what is a deadline?' }),
        await post('/api/v1/agent/query', { agent_id: 'reference', query: 'hi' }, { authorization: '' }),
        await gw.app.inject({ method: 'GET', url: '/api/v1/agents', headers: { authorization: `Bearer ${token}` } }),
        await gw.app.inject({ method: 'GET', url: '/health/live' }),
      ];
      expect(responses.map((res) => res.statusCode)).toEqual([200, 401, 200, 200]);
      for (const res of responses) {
        expect(res.headers['cache-control']).toMatch(/\bno-store\b/);
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('returns 401 without a token', async () => {
      const res = await post('/api/v1/agent/query', { agent_id: 'reference', query: 'hi' }, { authorization: '' });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', request_id: expect.any(String) });
    });

    it('returns 401 for a token signed by another key, checked once per request rather than once per guard', async () => {
      // The rate-limit guard runs first and tries the token to find the caller; the auth guard must
      // reuse its verdict, or a flood of bad tokens costs two signature checks each.
      const verify = jest.spyOn(gw.app.get(JwtVerifier), 'verify');
      try {
        const forged = await sign('RS256', rsaKeyPair().privateKey);
        const res = await post(
          '/api/v1/agent/query',
          { agent_id: 'reference', query: 'hi' },
          { authorization: `Bearer ${forged}` },
        );
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', message: 'invalid token' });
        expect(verify).toHaveBeenCalledTimes(1);
      } finally {
        verify.mockRestore();
      }
    });

    it('returns 404 for an unknown agent', async () => {
      const res = await post('/api/v1/agent/query', { agent_id: 'nobody', query: 'hi' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'AGENT_NOT_FOUND', message: 'unknown agent: nobody' });
    });

    it.each([
      ['a missing query', { agent_id: 'reference' }],
      ['an empty query', { agent_id: 'reference', query: '   ' }],
      ['a query over the limit', { agent_id: 'reference', query: 'x'.repeat(MAX_QUERY_CHARS + 1) }],
      ['an unknown field', { agent_id: 'reference', query: 'hi', temperature: 2 }],
      ['a malformed session id', { agent_id: 'reference', query: 'hi', session_id: 'not-a-uuid' }],
      [
        'too many options',
        {
          agent_id: 'reference',
          query: 'hi',
          options: Object.fromEntries([...Array(33).keys()].map((i) => [`k${i}`, i])),
        },
      ],
      ['a nested option value', { agent_id: 'reference', query: 'hi', options: { deep: { a: 1 } } }],
    ])('returns 400 VALIDATION_FAILED for %s', async (_what, payload) => {
      const res = await post('/api/v1/agent/query', payload);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    });

    it('returns 400 MALFORMED_JSON for a broken body', async () => {
      const res = await post('/api/v1/agent/query', '{"agent_id": "reference", "query":');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'MALFORMED_JSON' });
    });

    it.each([
      ['__proto__', '{"agent_id": "reference", "query": "hi", "__proto__": {"admin": true}}'],
      ['constructor.prototype', '{"agent_id": "reference", "query": "hi", "constructor": {"prototype": {}}}'],
    ])('returns 400 MALFORMED_JSON naming the forbidden key for a body with %s', async (_key, body) => {
      const res = await post('/api/v1/agent/query', body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'MALFORMED_JSON', message: expect.stringContaining('__proto__') });
    });

    describe('a body that is not UTF-8', () => {
      // "café" in Latin-1: the é is one byte, 0xE9, which UTF-8 does not allow there.
      const latin1 = () => Buffer.from('{"agent_id": "reference", "query": "café"}', 'latin1');

      it('is refused with 400 MALFORMED_JSON, with a Content-Length or without one', async () => {
        for (const payload of [latin1(), Readable.from([latin1()])]) {
          const res = await post('/api/v1/agent/query', payload);
          expect(res.statusCode).toBe(400);
          expect(res.json()).toMatchObject({ code: 'MALFORMED_JSON', message: 'request body is not UTF-8' });
        }
      });

      it('is refused with 415 when its charset says so, even if its bytes happen to be valid', async () => {
        for (const charset of ['iso-8859-1', 'utf-16', '"latin1"']) {
          const body = '{"agent_id": "reference", "query": "hi"}';
          const res = await post('/api/v1/agent/query', body, {
            'content-type': `application/json; charset=${charset}`,
          });
          expect(res.statusCode).toBe(415);
          expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'JSON bodies must be UTF-8' });
        }
      });

      it('is not confused with UTF-8, named in any usual way', async () => {
        for (const charset of ['utf-8', 'UTF-8', 'utf8', '"utf-8"']) {
          const body = Buffer.from('{"agent_id": "reference", "query": "café?"}');
          const res = await post('/api/v1/agent/query', body, {
            'content-type': `application/json;charset=${charset}`,
          });
          expect(res.statusCode).toBe(200);
        }
      });
    });

    it('returns 400 VALIDATION_FAILED for an empty body', async () => {
      const res = await post('/api/v1/agent/query', '');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('returns 413 for a body over the limit', async () => {
      const res = await post('/api/v1/agent/query', { agent_id: 'reference', query: 'x'.repeat(70_000) });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    });

    it('returns 415 for a body that is not JSON', async () => {
      const res = await post('/api/v1/agent/query', 'hello', { 'content-type': 'text/plain' });
      expect(res.statusCode).toBe(415);
    });

    it('returns 503 with Retry-After when the agent cannot be reached', async () => {
      const res = await post('/api/v1/agent/query', { agent_id: 'down', query: 'hi' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    });

    it('returns 502 without the agent internals when the agent fails', async () => {
      const res = await post('/api/v1/agent/query', {
        agent_id: 'reference',
        query: 'hi',
        options: { ref_fail: 'internal' },
      });
      expect(res.statusCode).toBe(502);
      expect(res.json()).toEqual({
        status: 502,
        code: 'AGENT_ERROR',
        message: 'agent reference failed',
        request_id: expect.any(String),
      });
    });

    it('keeps a caller request id, echoes it and sends it to the agent', async () => {
      const res = await post(
        '/api/v1/agent/query',
        { agent_id: 'reference', query: 'request id' },
        { 'x-request-id': 'trace-abc.123' },
      );
      expect(res.headers['x-request-id']).toBe('trace-abc.123');
      expect(agent.calls.map((c) => c.request_id)).toContain('trace-abc.123');
    });

    it('passes a W3C traceparent on to the agent, and drops a malformed one', async () => {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await post('/api/v1/agent/query', { agent_id: 'reference', query: 'trace me' }, { traceparent });
      expect(agent.calls.at(-1)).toMatchObject({ traceparent });
      await post('/api/v1/agent/query', { agent_id: 'reference', query: 'trace me' }, { traceparent: 'nonsense' });
      expect(agent.calls.at(-1)).toMatchObject({ traceparent: '' });
    });

    it('replaces an unsafe request id with a generated one', async () => {
      const res = await post(
        '/api/v1/agent/query',
        { agent_id: 'reference', query: 'x' },
        { 'x-request-id': 'bad id\twith spaces' },
      );
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('POST /api/v1/agent/batch', () => {
    it('answers every item in order, each with its own result or error', async () => {
      const res = await post('/api/v1/agent/batch', {
        requests: [
          { agent_id: 'reference', query: 'how are tokens verified?' },
          { agent_id: 'nobody', query: 'hi' },
          { agent_id: 'reference', query: 'hi', options: { ref_fail: 'unavailable' } },
          { agent_id: 'reference', query: 'what is a batch?' },
        ],
      });
      expect(res.statusCode).toBe(200);
      const { responses } = res.json();
      expect(responses).toHaveLength(4);
      expect(responses[0].response.sources[0].title).toBe('Authentication');
      expect(responses[1]).toEqual({
        error: { status: 404, code: 'AGENT_NOT_FOUND', message: 'unknown agent: nobody' },
      });
      expect(responses[2].error).toMatchObject({ status: 503, code: 'AGENT_UNAVAILABLE' });
      expect(responses[3].response.answer).toMatch(/batch/i);
    });

    it('returns 400 for an empty batch or one over the limit', async () => {
      expect((await post('/api/v1/agent/batch', { requests: [] })).statusCode).toBe(400);
      const tooMany = Array.from({ length: MAX_BATCH_ITEMS + 1 }, () => ({ agent_id: 'reference', query: 'hi' }));
      expect((await post('/api/v1/agent/batch', { requests: tooMany })).statusCode).toBe(400);
    });

    it('runs no more items at once than BATCH_CONCURRENCY', async () => {
      const before = agent.calls.length;
      const started = Date.now();
      const requests = Array.from({ length: 4 }, () => ({
        agent_id: 'reference',
        query: 'hi',
        options: { ref_latency_ms: 150 },
      }));
      const res = await post('/api/v1/agent/batch', { requests });
      expect(res.statusCode).toBe(200);
      expect(agent.calls.length - before).toBe(4);
      // Four 150 ms calls, two at a time, cannot finish in less than two rounds.
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    });
  });

  describe('GET /api/v1/agents', () => {
    const get = (url: string) => gw.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

    it('lists the configured agents without their addresses', async () => {
      const res = await get('/api/v1/agents');
      expect(res.statusCode).toBe(200);
      expect(res.json().agents.map((a: { id: string }) => a.id)).toEqual(['reference', 'down']);
      expect(res.body).not.toContain('127.0.0.1');
    });

    it('shows one agent, and 404 for an unknown one', async () => {
      expect((await get('/api/v1/agents/reference')).json()).toMatchObject({
        id: 'reference',
        type: 'rag',
        config: { targets: 1 },
      });
      expect((await get('/api/v1/agents/nobody')).statusCode).toBe(404);
    });
  });
});
