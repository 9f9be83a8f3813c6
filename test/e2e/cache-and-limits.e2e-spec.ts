import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { createTestGateway, type TestGateway } from '../support/gateway';
import { eventually, WsClient } from '../support/clients';
import { startReferenceAgent, type RunningAgent } from '../support/reference-agent';
import { TcpProxy } from '../support/tcp-proxy';
import { MetricsService } from '../../apps/gateway/src/observability/metrics.service';
import { RateLimitStore } from '../../apps/gateway/src/rate-limit/rate-limit.store';

const REDIS = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
const QUESTION = 'how are tokens verified?';

const cached = { ttl_ms: 60_000 };

function post(gw: TestGateway, route: 'query' | 'batch', token: string, body: object, headers: Record<string, string>) {
  return gw.app.inject({
    method: 'POST',
    url: `/api/v1/agent/${route}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
}

function ask(gw: TestGateway, token: string, body: object, headers: Record<string, string> = {}) {
  return post(gw, 'query', token, body, headers);
}

/** A batch of `n` identical questions to the reference agent. */
function askBatch(gw: TestGateway, token: string, n: number) {
  return post(
    gw,
    'batch',
    token,
    { requests: Array.from({ length: n }, () => ({ agent_id: 'reference', query: 'hi' })) },
    {},
  );
}

describe('the answer cache (in memory)', () => {
  let agent: RunningAgent;
  let gw: TestGateway;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    gw = await createTestGateway([
      { id: 'private', targets: [agent.target], cache: cached },
      { id: 'public', targets: [agent.target], cache: { ...cached, shareable: true } },
      { id: 'uncached', targets: [agent.target] },
    ]);
    [alice, bob] = await Promise.all([gw.tokenFor('alice'), gw.tokenFor('bob')]);
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  const calls = () => agent.server.stats().total;
  /** Misses of the private agent so far, from the gateway's own metrics. */
  const misses = async () =>
    (await gw.app.get(MetricsService).cacheLookups.get()).values
      .filter(({ labels }) => labels.agent === 'private' && labels.result === 'miss')
      .reduce((sum, { value }) => sum + value, 0);

  it('misses, then hits, with X-Cache saying which; the same answer both times', async () => {
    const before = calls();
    const first = await ask(gw, alice, { agent_id: 'private', query: QUESTION });
    const second = await ask(gw, alice, { agent_id: 'private', query: `  ${QUESTION.replace(' ', '   ')} ` });
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.body).toBe(first.body);
    expect(first.json()).toMatchObject({ answer: expect.any(String) });
    expect(calls() - before).toBe(1);
  });

  it("never serves one user's answer to another, unless the agent is shareable", async () => {
    await ask(gw, alice, { agent_id: 'private', query: 'what is a batch?' });
    expect((await ask(gw, bob, { agent_id: 'private', query: 'what is a batch?' })).headers['x-cache']).toBe('MISS');
    await ask(gw, alice, { agent_id: 'public', query: 'what is a batch?' });
    expect((await ask(gw, bob, { agent_id: 'public', query: 'what is a batch?' })).headers['x-cache']).toBe('HIT');
  });

  it('keys on options, skips sessions and uncached agents, and obeys Cache-Control: no-cache', async () => {
    await ask(gw, alice, { agent_id: 'private', query: 'deadline', options: { a: 1 } });
    expect(
      (await ask(gw, alice, { agent_id: 'private', query: 'deadline', options: { a: 2 } })).headers['x-cache'],
    ).toBe('MISS');
    expect((await ask(gw, alice, { agent_id: 'uncached', query: 'deadline' })).headers['x-cache']).toBeUndefined();
    const before = calls();
    const fresh = await ask(
      gw,
      alice,
      { agent_id: 'private', query: 'deadline', options: { a: 1 } },
      { 'cache-control': 'no-cache' },
    );
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(calls() - before).toBe(1);
  });

  it('neither looks up nor keeps an answer asked with Cache-Control: no-store', async () => {
    const question = { agent_id: 'private', query: `kept nowhere ${randomUUID()}` };
    const before = calls();
    const unkept = await ask(gw, alice, question, { 'cache-control': 'no-store' });
    expect({ status: unkept.statusCode, cache: unkept.headers['x-cache'] }).toEqual({ status: 200, cache: undefined });
    expect((await ask(gw, alice, question)).headers['x-cache']).toBe('MISS');
    // Not even a cached answer is served to it.
    expect((await ask(gw, alice, question, { 'cache-control': 'max-age=0, no-store' })).headers['x-cache']).toBe(
      undefined,
    );
    expect(calls() - before).toBe(3);
  });

  it('answers batch items from the same cache as queries, under the same rules', async () => {
    const asked = { agent_id: 'private', query: `asked once ${randomUUID()}` };
    const batched = { agent_id: 'private', query: `batched once ${randomUUID()}` };
    const batch = async (requests: object[], headers: Record<string, string> = {}) => {
      const res = await post(gw, 'batch', alice, { requests }, headers);
      expect(res.statusCode).toBe(200);
      return res.json<{ responses: { response: { id: string } }[] }>().responses.map((r) => r.response);
    };
    const first = await ask(gw, alice, asked);
    let before = calls();
    const answers = await batch([
      asked,
      batched,
      { ...asked, agent_id: 'uncached' },
      { ...asked, session_id: randomUUID() },
    ]);
    expect(answers[0]).toEqual(first.json());
    // The batched question was asked, as were those of the uncached agent; the one in a session is not yours (404).
    expect(calls() - before).toBe(2);
    expect(await ask(gw, alice, batched)).toMatchObject({ headers: { 'x-cache': 'HIT' } });
    expect((await batch([batched]))[0]).toEqual(answers[1]);
    expect((await post(gw, 'batch', bob, { requests: [batched] }, {})).json()).not.toMatchObject({
      responses: [{ response: { id: answers[1].id } }],
    });

    before = calls();
    await batch([asked], { 'cache-control': 'no-store' });
    await batch([asked], { 'cache-control': 'no-cache' });
    expect(calls() - before).toBe(2);
  });

  it('turns 20 concurrent identical misses into one agent call', async () => {
    const before = calls();
    const query = `concurrent ${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        ask(gw, alice, { agent_id: 'private', query, options: { ref_latency_ms: 100 } }),
      ),
    );
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    expect(calls() - before).toBe(1);
  });

  it('answers the callers of a shared miss when the one whose request made the agent call leaves', async () => {
    const base = await gw.listen();
    const query = `left early ${randomUUID()}`;
    const post = (signal?: AbortSignal) =>
      fetch(`${base}/api/v1/agent/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'private', query, options: { ref_latency_ms: 1000 } }),
        signal,
      });
    const missesBefore = await misses();
    const leaving = new AbortController();
    const first = post(leaving.signal).catch((error: Error) => error.name);
    expect(await eventually(() => agent.server.stats().active === 1, 2000)).toBe(true); // its call is made
    const second = post();
    expect(await eventually(async () => (await misses()) === missesBefore + 2, 2000)).toBe(true); // joined
    leaving.abort();
    expect(await first).toBe('AbortError');
    const answered = await second;
    expect({ status: answered.status, body: await answered.json() }).toMatchObject({
      status: 200,
      body: { answer: expect.any(String) },
    });
  });

  it('cancels the agent call of a shared miss once every caller has left', async () => {
    const base = await gw.listen();
    const body = JSON.stringify({
      agent_id: 'private',
      query: `all left ${randomUUID()}`,
      options: { ref_latency_ms: 5000 },
    });
    const missesBefore = await misses();
    const callers = [new AbortController(), new AbortController()];
    const asked = callers.map((caller) =>
      fetch(`${base}/api/v1/agent/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body,
        signal: caller.signal,
      }).catch(() => undefined),
    );
    // Both have joined the one call (each counts its miss as it joins), and the agent has it.
    expect(await eventually(async () => (await misses()) === missesBefore + 2, 2000)).toBe(true);
    expect(await eventually(() => agent.server.stats().active === 1, 2000)).toBe(true);
    const cancelled = agent.server.stats().cancelled;
    callers[0].abort();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(agent.server.stats()).toMatchObject({ active: 1, cancelled }); // one caller still waits
    callers[1].abort();
    await Promise.all(asked);
    expect(await eventually(() => agent.server.stats().active === 0, 1000)).toBe(true);
    expect(agent.server.stats().cancelled).toBe(cancelled + 1);
  });

  it('still validates what it caches: a bad request is 400, cached or not', async () => {
    expect((await ask(gw, alice, { agent_id: 'private', query: '' })).statusCode).toBe(400);
    // The same question asked well first, so that each bad request below has an answer in the cache
    // under the key it would be given: it must be refused all the same, and say nothing of the cache.
    const good = await ask(gw, alice, { agent_id: 'private', query: 'a valid question', options: { k: 'v' } });
    expect(good.statusCode).toBe(200);
    const bad = [
      { agent_id: 'private', query: 'a valid question', options: { k: 'v' }, extra: true },
      { agent_id: 'private', query: 'a valid question', options: { k: ['v'] } },
      { agent_id: 'private', query: `a ${' '.repeat(8_000)}valid question`, options: { k: 'v' } },
    ];
    for (const body of bad) {
      const refused = await ask(gw, alice, body);
      expect({ status: refused.statusCode, code: refused.json().code, cache: refused.headers['x-cache'] }).toEqual({
        status: 400,
        code: 'VALIDATION_FAILED',
        cache: undefined,
      });
    }
  });
});

describe('rate limits', () => {
  let agent: RunningAgent;
  let gw: TestGateway;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
      RATE_LIMITS: JSON.stringify([
        { name: 'burst', ttl_ms: 60_000, limit: 5 },
        { name: 'minute', ttl_ms: 60_000, limit: 100 },
      ]),
    });
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  it('admits N per window per user, then 429 with Retry-After and RateLimit headers; other users unaffected', async () => {
    const alice = await gw.tokenFor(`alice-${randomUUID()}`);
    const responses = [];
    for (let i = 0; i < 7; i++) responses.push(await ask(gw, alice, { agent_id: 'reference', query: 'hi' }));
    const statuses = responses.map((r) => r.statusCode);
    const last = responses[6];
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(last.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    expect(last.headers['ratelimit-limit']).toBe('5');
    expect(last.headers['ratelimit-remaining']).toBe('0');
    // Every policy, on a refusal too, though the windows after the one exceeded are not counted.
    for (const response of [responses[0], last])
      expect(response.headers['ratelimit-policy']).toBe('5;w=60;name="burst", 100;w=60;name="minute"');
    const bob = await gw.tokenFor(`bob-${randomUUID()}`);
    expect((await ask(gw, bob, { agent_id: 'reference', query: 'hi' })).statusCode).toBe(200);
  });

  it('counts a batch as its number of items', async () => {
    const carol = await gw.tokenFor(`carol-${randomUUID()}`);
    const batch = (n: number) => askBatch(gw, carol, n);
    expect((await batch(4)).statusCode).toBe(200);
    expect((await batch(2)).statusCode).toBe(429);
  });

  it('refuses with 400, not 429, a batch no wait would admit, and counts it as one request', async () => {
    const dave = await gw.tokenFor(`dave-${randomUUID()}`);
    const batch = (n: number) => askBatch(gw, dave, n);
    // Over the 5 of "burst", and over the 32 items a batch may have.
    for (const items of [6, 1_000]) {
      const refused = await batch(items);
      expect(refused.statusCode).toBe(400);
      expect(refused.headers['retry-after']).toBeUndefined();
      expect(refused.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect((await batch(6)).json().message).toBe(
      'a batch of 6 items is over the rate limit "burst" (5 per 60000 ms) on its own: send at most 5 at once',
    );
    // Three requests counted so far, one each: two more items fit in "burst".
    const admitted = await batch(2);
    expect(admitted.statusCode).toBe(200);
    expect(admitted.headers['ratelimit-remaining']).toBe('0');
  });

  it('limits requests without a valid token by IP, and never the health probes', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) {
      statuses.push(
        (await gw.app.inject({ method: 'GET', url: '/api/v1/agents', remoteAddress: '10.9.9.9' })).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    for (let i = 0; i < 10; i++)
      expect((await gw.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });

  it("counts a stream opened with a ticket against the ticket's user, not an IP all browsers behind a proxy share; a 429 leaves the ticket good", async () => {
    const ticketsFor = async (token: string, count: number) => {
      const tickets: string[] = [];
      for (let i = 0; i < count; i++) {
        const issued = await gw.app.inject({
          method: 'POST',
          url: '/api/v1/agent/stream/ticket',
          headers: { authorization: `Bearer ${token}` },
        });
        tickets.push(issued.json<{ ticket: string }>().ticket);
      }
      return tickets;
    };
    // One address for everyone, as behind a load balancer.
    const open = async (auth: { ticket: string } | { token: string }) => {
      const ticket = 'ticket' in auth ? `&ticket=${auth.ticket}` : '';
      const headers = 'token' in auth ? { authorization: `Bearer ${auth.token}` } : {};
      const url = `/api/v1/agent/stream?agent_id=reference&query=hi${ticket}`;
      return (await gw.app.inject({ method: 'GET', url, headers, remoteAddress: '10.1.1.1' })).statusCode;
    };
    // "burst" admits 5 per user on the route (issuing tickets is another route); by IP, frank would get none.
    const erin = await gw.tokenFor(`erin-${randomUUID()}`);
    const erinTickets = await ticketsFor(erin, 5);
    const statuses = [await open({ token: erin })];
    for (const ticket of erinTickets) statuses.push(await open({ ticket }));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const frankTickets = await ticketsFor(await gw.tokenFor(`frank-${randomUUID()}`), 5);
    expect(await Promise.all(frankTickets.map((ticket) => open({ ticket })))).toEqual([200, 200, 200, 200, 200]);

    // The ticket refused with 429 was not spent: it still opens a WebSocket (counted apart).
    const ws = await WsClient.connect(
      `${(await gw.listen()).replace('http', 'ws')}/api/v1/stream?ticket=${erinTickets[4]}`,
    );
    ws.close();
  });

  it('limits WebSocket messages too: queries, resumes and cancels each count', async () => {
    const base = await gw.listen();
    const dave = await gw.tokenFor(`dave-${randomUUID()}`);
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/stream`, {
      authorization: `Bearer ${dave}`,
    });
    for (let i = 0; i < 3; i++) ws.send('query', { agent_id: 'reference', query: 'hi' });
    await ws.waitFor(() => ws.messages.filter((m) => m.event === 'start').length === 3);
    ws.send('resume', { run_id: randomUUID() });
    ws.send('cancel', { run_id: randomUUID() });
    ws.send('resume', { run_id: randomUUID() });
    const limited = await ws.waitFor((m) => m.event === 'error' && m.data.code === 'RATE_LIMITED');
    expect(limited.data.status).toBe(429);
    await ws.waitFor(() => ws.messages.filter((m) => m.event === 'error').length === 3);
    // Messages are handled concurrently: the refusal can come first.
    const codes = ws.messages.filter((m) => m.event === 'error').map((m) => m.data.code as string);
    expect(codes.sort()).toEqual(['RATE_LIMITED', 'RUN_NOT_FOUND', 'RUN_NOT_FOUND']);
    ws.close();
  });

  it('limits WebSocket upgrades like requests: by user, and by IP without a valid token, with RateLimit headers', async () => {
    const url = `${(await gw.listen()).replace('http', 'ws')}/api/v1/stream`;
    const upgrade = (headers: Record<string, string>) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
        const socket = new WebSocket(url, { headers });
        socket.once('upgrade', (res) => (socket.close(), resolve({ status: 101, headers: res.headers })));
        socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode!, headers: res.headers }));
        socket.once('error', reject);
      });
    const erin = { authorization: `Bearer ${await gw.tokenFor(`erin-${randomUUID()}`)}` };
    const upgrades = [];
    for (let i = 0; i < 6; i++) upgrades.push(await upgrade(erin));
    expect(upgrades.map((u) => u.status)).toEqual([101, 101, 101, 101, 101, 429]);
    expect(upgrades[0].headers).toMatchObject({
      'ratelimit-limit': '5',
      'ratelimit-remaining': '4',
      'ratelimit-policy': '5;w=60;name="burst", 100;w=60;name="minute"',
    });
    expect(upgrades[5].headers['ratelimit-remaining']).toBe('0');
    expect(Number(upgrades[5].headers['retry-after'])).toBeGreaterThan(0);

    const forged = { authorization: 'Bearer not-a-token' };
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await upgrade(forged)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('keeps the in-memory counters bounded however many callers there are', async () => {
    const store = gw.app.get(RateLimitStore);
    for (let i = 0; i < 120_000; i++) await store.increment(`caller-${i}`, 60_000, 5, 0, 'burst');
    expect(store.trackedKeys).toBeLessThanOrEqual(100_000);
  });
});

describe('two replicas sharing Redis', () => {
  let agent: RunningAgent;
  let one: TestGateway;
  let two: TestGateway;
  const env = {
    REDIS_URL: REDIS.toString(),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    RATE_LIMITS: JSON.stringify([{ name: 'minute', ttl_ms: 60_000, limit: 6 }]),
  };

  beforeAll(async () => {
    agent = await startReferenceAgent();
    const agents = [{ id: 'reference', targets: [agent.target], cache: { ttl_ms: 60_000 } }];
    one = await createTestGateway(agents, env);
    two = await createTestGateway(agents, env);
    await Promise.all([one.listen(), two.listen()]);
  }, 30_000);

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await agent?.stop();
  });

  it('admits N per minute in total, not N per replica', async () => {
    const token = await one.tokenFor(`erin-${randomUUID()}`);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const gw = i % 2 === 0 ? one : two;
      statuses.push((await ask(gw, token, { agent_id: 'reference', query: `q${i}` })).statusCode);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    expect(statuses.slice(6)).toEqual([429, 429, 429, 429]);
  });

  it('serves from one replica an answer cached by the other', async () => {
    const token = await one.tokenFor(`frank-${randomUUID()}`);
    const first = await ask(one, token, { agent_id: 'reference', query: QUESTION });
    expect(first.headers['x-cache']).toBe('MISS');
    const before = agent.server.stats().total;
    const second = await ask(two, token, { agent_id: 'reference', query: QUESTION });
    expect(second.headers['x-cache']).toBe('HIT');
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.body).toBe(first.body);
    expect(first.json()).toMatchObject({ answer: expect.any(String) });
    expect(agent.server.stats().total).toBe(before);

    // The second replica now holds the answer itself: its next hit does not need Redis.
    const redis = new Redis(REDIS.toString());
    try {
      const answers = await redis.keys(`${env.REDIS_KEY_PREFIX}*answer:reference:*`);
      expect(answers.length).toBeGreaterThan(0);
      await redis.del(...answers);
    } finally {
      redis.disconnect();
    }
    const third = await ask(two, token, { agent_id: 'reference', query: QUESTION });
    expect(third.headers['x-cache']).toBe('HIT');
    expect(third.body).toBe(first.body);
  });

  it('keeps its cached answers under REDIS_KEY_PREFIX, apart from other deployments on the same Redis', async () => {
    // Another prefix (say staging beside production) with the same agents and users must share nothing.
    const redis = new Redis(REDIS.toString());
    try {
      const first = await ask(one, await one.tokenFor(`gina-${randomUUID()}`), {
        agent_id: 'reference',
        query: QUESTION,
      });
      expect(first.headers['x-cache']).toBe('MISS');
      const answers = () => redis.keys(`${env.REDIS_KEY_PREFIX}*answer:reference:*`);
      expect(await eventually(async () => (await answers()).length > 0)).toBe(true);
    } finally {
      redis.disconnect();
    }
  });
});

describe('when Redis goes away', () => {
  let agent: RunningAgent;
  let proxy: TcpProxy;
  let gw: TestGateway;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    proxy = new TcpProxy(REDIS.hostname, Number(REDIS.port || 6379));
    const port = await proxy.start();
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target], cache: { ttl_ms: 60_000 } }], {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
      REDIS_COMMAND_TIMEOUT_MS: '1000',
    });
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await proxy?.stop();
    await agent?.stop();
  });

  it('keeps serving (cache misses, rate limits open), says so in readiness, and recovers', async () => {
    const token = await gw.tokenFor('grace');
    expect(
      await eventually(async () => (await gw.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200),
    ).toBe(true);

    await proxy.stop();
    const started = Date.now();
    const res = await ask(gw, token, { agent_id: 'reference', query: `while redis is down ${randomUUID()}` });
    expect(res.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    const ready = await gw.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error).toEqual({ redis: { status: 'down' } });
    expect((await gw.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);

    await proxy.start();
    expect(
      await eventually(
        async () => (await gw.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200,
        10_000,
      ),
    ).toBe(true);
  }, 30_000);

  it('never makes a request wait out the Redis timeout while Redis is away, however long that lasts', async () => {
    const token = await gw.tokenFor('heidi');
    await proxy.stop();
    try {
      // Several of the cache client's reconnect cycles (2 s each): none may hold a lookup until the
      // 1 s command timeout (one lookup per cycle used to).
      const slowest: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = Date.now();
        const res = await ask(gw, token, { agent_id: 'reference', query: `while away ${randomUUID()}` });
        expect(res.statusCode).toBe(200);
        slowest.push(Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(Math.max(...slowest)).toBeLessThan(500);
    } finally {
      await proxy.start();
    }
  }, 30_000);
});
