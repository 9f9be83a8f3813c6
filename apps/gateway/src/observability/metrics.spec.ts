import { randomUUID } from 'node:crypto';
import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { startReferenceAgent, type RunningAgent } from '../../../../test/support/reference-agent';

describe('GET /metrics', () => {
  let agent: RunningAgent;
  let gw: TestGateway;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    gw = await createTestGateway([
      { id: 'reference', targets: [agent.target], cache: { ttl_ms: 60_000 } },
      { id: 'down', targets: ['127.0.0.1:1'], breaker: { volume_threshold: 1 }, retry: { max_attempts: 1 } },
    ]);
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  /** A POST with a JSON body as alice. */
  const post = async (url: string, body: object) =>
    gw.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${await gw.tokenFor('alice')}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('exports HTTP, agent, breaker, cache, stream and process metrics in Prometheus format, without a token', async () => {
    const token = await gw.tokenFor('alice');
    const ask = (agentId: string, query: string) => post('/api/v1/agent/query', { agent_id: agentId, query });
    const query = `metrics ${randomUUID()}`;
    await ask('reference', query);
    await ask('reference', query);
    await ask('down', 'x');
    await ask('down', 'x');
    await gw.app.inject({
      method: 'GET',
      url: `/api/v1/session/${randomUUID()}`,
      headers: { authorization: `Bearer ${token}` },
    });

    const res = await gw.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(
      /gateway_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/agent\/query",status="200"\} 2/,
    );
    // Route templates, not raw URLs: ids never become labels.
    expect(text).toContain('route="/api/v1/session/:id",status="404"');
    expect(text).toMatch(
      /gateway_agent_call_duration_seconds_count\{agent="reference",target="[^"]+",method="Query",code="OK"\} 1/,
    );
    expect(text).toMatch(
      /gateway_agent_call_duration_seconds_count\{agent="down",target="127.0.0.1:1",method="Query",code="UNAVAILABLE"\}/,
    );
    expect(text).toContain('gateway_circuit_breaker_state{agent="down",target="127.0.0.1:1"} 2');
    expect(text).toContain('gateway_circuit_breaker_state{agent="reference"');
    expect(text).toMatch(/gateway_cache_lookups_total\{agent="reference",result="hit"\} 1/);
    expect(text).toMatch(/gateway_cache_lookups_total\{agent="reference",result="miss"\} 1/);
    expect(text).toContain('gateway_active_streams 0');
    expect(text).toContain('gateway_websocket_connections 0');
    expect(text).toContain('gateway_rate_limited_total');
    expect(text).toContain('gateway_process_resident_memory_bytes');
  });

  it('counts the tokens agents report, unary and streamed, and none for an answer from the cache', async () => {
    const tokens = async () => {
      const text = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body;
      const count = (kind: string) => {
        const line = new RegExp(`^gateway_agent_tokens_total\\{agent="reference",kind="${kind}"\\} (\\d+)`, 'm');
        return Number(line.exec(text)?.[1] ?? 0);
      };
      return { prompt: count('prompt'), completion: count('completion') };
    };
    const before = await tokens();
    const body = { agent_id: 'reference', query: `tokens ${randomUUID()}` };
    const { usage } = (await post('/api/v1/agent/query', body)).json<{ usage: Record<string, number> }>();
    await post('/api/v1/agent/query', body); // a cache hit
    const streamed = await post('/api/v1/agent/stream', { ...body, query: `${body.query} streamed` });
    const done = /event: done\ndata: (.*)\n/.exec(streamed.body)![1];
    const streamedUsage = (JSON.parse(done) as { usage: Record<string, number> }).usage;

    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(await tokens()).toEqual({
      prompt: before.prompt + usage.prompt_tokens + streamedUsage.prompt_tokens,
      completion: before.completion + usage.completion_tokens + streamedUsage.completion_tokens,
    });
  });
});
