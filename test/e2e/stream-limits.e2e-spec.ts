import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestGateway, TEST_JWT_SECRET, type TestGateway } from '../support/gateway';
import {
  cancelRun,
  eventually,
  readSse,
  readSseNotingRun,
  sseRequest,
  streamTicket,
  UpgradeRefused,
  WsClient,
} from '../support/clients';
import { freePort, runBuilt, spawnBuilt } from '../support/processes';
import { startReferenceAgent, type RunningAgent } from '../support/reference-agent';
import { connectionNames } from '../support/redis';

const QUESTION = 'what happens when the deadline passes?';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('stream deadlines and sessions', () => {
  let agent: RunningAgent;
  let gw: TestGateway;
  let base: string;
  let token: string;

  beforeAll(async () => {
    agent = await startReferenceAgent({ tokensPerSecond: 200 });
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
      STREAM_FIRST_CHUNK_TIMEOUT_MS: '300',
      STREAM_IDLE_TIMEOUT_MS: '300',
      STREAM_RESUME_WINDOW_MS: '0',
      MAX_WEBSOCKETS_PER_USER: '2',
    });
    base = await gw.listen();
    token = await gw.tokenFor('alice');
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  it('ends with AGENT_TIMEOUT when the first chunk does not come in time', async () => {
    const started = Date.now();
    const { events } = await readSse(
      await sseRequest(base, token, { agent_id: 'reference', query: QUESTION, options: { ref_latency_ms: 3000 } }),
    );
    expect(events.at(-1)!.json()).toMatchObject({ code: 'AGENT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await eventually(() => agent.server.stats().active === 0, 1000)).toBe(true);
  });

  it('ends with AGENT_TIMEOUT when the agent goes quiet between chunks', async () => {
    const { events } = await readSse(
      await sseRequest(base, token, { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 2 } }),
    );
    expect(events.filter((e) => e.event === 'chunk').length).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)!.json()).toMatchObject({ code: 'AGENT_TIMEOUT' });
  });

  it('cancels the agent call when a client hangs up on a unary query', async () => {
    const hangUp = new AbortController();
    const asked = fetch(`${base}/api/v1/agent/query`, {
      method: 'POST',
      signal: hangUp.signal,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: 'reference', query: QUESTION, options: { ref_latency_ms: 5000 } }),
    }).catch(() => undefined);
    expect(await eventually(() => agent.server.stats().active === 1, 2000)).toBe(true);
    hangUp.abort();
    await asked;
    expect(await eventually(() => agent.server.stats().active === 0, 1000)).toBe(true);
  });

  it('cancels at once on disconnect when the resume window is 0', async () => {
    await readSse(
      await sseRequest(base, token, { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 4 } }),
      2,
    );
    expect(await eventually(() => agent.server.stats().active === 0, 1000)).toBe(true);
  });

  it("refuses a WebSocket over MAX_WEBSOCKETS_PER_USER with 429 until one of the user's closes", async () => {
    const url = `${base.replace('http', 'ws')}/api/v1/stream`;
    const open = (user: string) =>
      gw.tokenFor(user).then((t) => WsClient.connect(url, { authorization: `Bearer ${t}` }));
    const refusal = (user: string) =>
      open(user).then(
        (ws) => (ws.close(), 'opened'),
        (error: UpgradeRefused) => `${error.status} ${JSON.parse(error.body).message}`,
      );
    const mine = [await open('wes'), await open('wes')];
    expect(await refusal('wes')).toBe('429 at most 2 WebSockets open at a time; close one first');
    const other = await open('xena');
    mine[0].close();
    // Its place comes back when its connection has closed.
    expect(await eventually(async () => (await refusal('wes')) === 'opened')).toBe(true);
    mine[1].close();
    other.close();

    // An upgrade refused after it took a place (its ticket spent already) gives the place back.
    const ticket = await streamTicket(base, await gw.tokenFor('yann'));
    const withTicket = () =>
      WsClient.connect(`${url}?ticket=${ticket}`).then(
        (ws) => (ws.close(), 'opened'),
        (error: UpgradeRefused) => String(error.status),
      );
    expect([await withTicket(), await withTicket(), await withTicket()]).toEqual(['opened', '401', '401']);
    const twoAtOnce = async () => {
      const both = await Promise.all([open('yann'), open('yann')].map((ws) => ws.catch(() => undefined)));
      for (const ws of both) ws?.close();
      return both.every(Boolean);
    };
    expect(await eventually(twoAtOnce)).toBe(true);
  });

  it('stores a streamed answer in the session, and a cancelled one as incomplete with what was produced', async () => {
    const session = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/session',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ agent_id: 'reference' }),
    });
    const sessionId = session.json<{ id: string }>().id;
    const complete = await readSse(
      await sseRequest(base, token, { agent_id: 'reference', session_id: sessionId, query: QUESTION }),
    );
    const answer = complete.events.at(-1)!.json().answer as string;

    const partial = await readSse(
      await sseRequest(base, token, {
        agent_id: 'reference',
        session_id: sessionId,
        query: 'how are tokens verified?',
        options: { ref_tokens_per_second: 20 },
      }),
      4,
    );
    const sentBeforeLeaving = partial.events
      .filter((e) => e.event === 'chunk')
      .map((e) => e.json().text)
      .join('');
    const messages = async () =>
      (
        await gw.app.inject({
          method: 'GET',
          url: `/api/v1/session/${sessionId}/messages`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).json<{ messages: { role: string; content: string; metadata: Record<string, unknown> }[] }>().messages;
    expect(await eventually(async () => (await messages()).length === 4, 3000)).toBe(true);
    const [q1, a1, q2, a2] = await messages();
    expect(q1.content).toBe(QUESTION);
    expect(a1).toMatchObject({ role: 'assistant', content: answer });
    expect(a1.metadata).toMatchObject({ usage: { total_tokens: expect.any(Number) } });
    expect(q2.content).toBe('how are tokens verified?');
    expect(a2.metadata).toMatchObject({ incomplete: true, reason: 'CLIENT_GONE' });
    expect(a2.content.startsWith(sentBeforeLeaving)).toBe(true);
    expect(a2.content.length).toBeGreaterThan(0);
  });
});

describe('a run that grows past MAX_RUN_BYTES', () => {
  let agent: RunningAgent;
  let gw: TestGateway;

  beforeAll(async () => {
    agent = await startReferenceAgent({ tokensPerSecond: 0 });
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], { MAX_RUN_BYTES: '1024' });
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  it('ends with RUN_TOO_LARGE after what fitted, and the agent call is cancelled', async () => {
    const base = await gw.listen();
    const { events } = await readSse(
      await sseRequest(base, await gw.tokenFor('alice'), { agent_id: 'reference', query: QUESTION }),
    );
    const chunks = events.filter((e) => e.event === 'chunk');
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.map((e) => e.json().text as string).join('').length).toBeLessThan(1024);
    expect(events.at(-1)!.json()).toMatchObject({ code: 'RUN_TOO_LARGE' });
    expect(await eventually(() => agent.server.stats().active === 0, 1000)).toBe(true);
  });
});

describe('two gateway replicas sharing Redis', () => {
  let agent: RunningAgent;
  let one: TestGateway;
  let two: TestGateway;

  const env = {
    REDIS_URL,
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    STREAM_RESUME_WINDOW_MS: '1500',
    MAX_STREAMS_PER_USER: '3',
  };

  beforeAll(async () => {
    agent = await startReferenceAgent({ tokensPerSecond: 40 });
    one = await createTestGateway([{ id: 'reference', targets: [agent.target] }], env);
    two = await createTestGateway([{ id: 'reference', targets: [agent.target] }], env);
  }, 30_000);

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await agent?.stop();
  });

  it('resumes on one replica a stream started on the other, without gaps or repeats', async () => {
    const [baseOne, baseTwo] = [await one.listen(), await two.listen()];
    const token = await one.tokenFor('alice');
    const first = await readSse(await sseRequest(baseOne, token, { agent_id: 'reference', query: QUESTION }), 4);
    const rest = await readSse(
      await sseRequest(
        baseTwo,
        token,
        { agent_id: 'reference', query: QUESTION },
        { 'last-event-id': first.events.at(-1)!.id! },
      ),
    );
    const all = [...first.events, ...rest.events];
    const runId = first.events[0].json().run_id as string;
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => `${runId}:${i}`));
    expect(all.at(-1)!.event).toBe('done');
    expect(all.at(-1)!.json().answer).toBe(
      all
        .filter((e) => e.event === 'chunk')
        .map((e) => e.json().text)
        .join(''),
    );

    const bob = await two.tokenFor('bob');
    expect(
      (await fetch(`${baseTwo}/api/v1/agent/stream/${runId}`, { headers: { authorization: `Bearer ${bob}` } })).status,
    ).toBe(404);
  }, 20_000);

  it('follows many runs of the other replica on one Redis connection, each reader getting all of its run', async () => {
    const [baseOne, baseTwo] = [await one.app.getUrl(), await two.app.getUrl()];
    const token = await one.tokenFor('dave');
    const slow = { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 20 } };
    const starts = await Promise.all(
      [1, 2, 3].map(async () => (await readSse(await sseRequest(baseOne, token, slow), 2)).events),
    );
    // Three runs resumed on the other replica, the first by two clients at once.
    const resumed = [starts[0], ...starts].map((first) => {
      const seen: number[] = [];
      const reading = sseRequest(baseTwo, token, slow, { 'last-event-id': first.at(-1)!.id! }).then((response) =>
        readSse(response, Infinity, () => seen.push(1)),
      );
      return { first, seen, reading };
    });
    expect(await eventually(() => resumed.every((r) => r.seen.length > 0))).toBe(true);

    const redis = new Redis(REDIS_URL);
    try {
      const names = await connectionNames(redis);
      expect(names.filter((name) => name.startsWith(`${env.REDIS_KEY_PREFIX}follow:`))).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
    for (const { first, reading } of resumed) {
      const all = [...first, ...(await reading).events];
      const runId = first[0].json().run_id as string;
      expect(all.map((e) => e.id)).toEqual(all.map((_, i) => `${runId}:${i}`));
      expect(all.at(-1)!.event).toBe('done');
    }
  }, 30_000);

  it('holds MAX_STREAMS_PER_USER across replicas, and gives a slot back when a stream ends', async () => {
    const [baseOne, baseTwo] = [await one.app.getUrl(), await two.app.getUrl()];
    const token = await one.tokenFor(`frank-${randomUUID()}`);
    const slow = { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 2 } };
    const open = [];
    for (const base of [baseOne, baseOne, baseTwo]) open.push(await sseRequest(base, token, slow));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
    const refused = await sseRequest(baseTwo, token, slow);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: 'TOO_MANY_STREAMS' });

    const first = readSseNotingRun(open[0]);
    expect(await eventually(() => first.runId() !== '')).toBe(true);
    expect((await cancelRun(baseTwo, token, first.runId())).status).toBe(202);
    await first.reading;
    const admitted = await sseRequest(baseTwo, token, slow);
    expect(admitted.status).toBe(200);
    await Promise.all([...open.slice(1), admitted].map((r) => r.body!.cancel()));
  }, 20_000);

  it('cancels from one replica a run driven by the other', async () => {
    const [baseOne, baseTwo] = [await one.app.getUrl(), await two.app.getUrl()];
    const token = await one.tokenFor('alice');
    const { reading, runId } = readSseNotingRun(
      await sseRequest(baseOne, token, {
        agent_id: 'reference',
        query: QUESTION,
        options: { ref_tokens_per_second: 5 },
      }),
    );
    expect(await eventually(() => runId() !== '')).toBe(true);
    expect((await cancelRun(baseTwo, token, runId())).status).toBe(202);
    const { events } = await reading;
    expect(events.at(-1)!.json()).toMatchObject({ code: 'REQUEST_CANCELLED' });
  }, 20_000);

  it('keeps a mirrored run in Redis only while it can be resumed: a TTL while it runs, the resume window after', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const token = await one.tokenFor('carol');
      let chunks = 0;
      const { reading, runId } = readSseNotingRun(
        await sseRequest(await one.app.getUrl(), token, {
          agent_id: 'reference',
          query: QUESTION,
          options: { ref_tokens_per_second: 20 },
        }),
        (e) => {
          if (e.event === 'chunk') chunks += 1;
        },
      );
      expect(await eventually(() => chunks >= 3)).toBe(true);
      const key = `${env.REDIS_KEY_PREFIX}run:${runId()}:events`;
      // While it runs: at most the longest a run may last plus the resume window, far more than the window.
      expect(await redis.pttl(key)).toBeGreaterThan(1500);
      expect((await reading).events.at(-1)!.event).toBe('done');
      expect(await eventually(async () => (await redis.pttl(key)) <= 1500)).toBe(true);
      expect(await redis.pttl(key)).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  }, 20_000);
});

describe('SIGTERM with open streams', () => {
  it('sends each SSE and WebSocket client a final reconnect event, then exits 0 in time', async () => {
    const [port, agentPort] = await Promise.all([freePort(), freePort()]);
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-drain-streams-'));
    const env = {
      PORT: String(port),
      AGENT_PORT: String(agentPort),
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      SHUTDOWN_DELAY_MS: '200',
      DRAIN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
      AGENT_TOKENS_PER_SECOND: '5',
    };
    const stack = spawnBuilt('scripts/start.js', env);
    try {
      await stack.waitFor(/listening on/);
      const token = (await runBuilt('apps/gateway/src/auth/token.cli.js', ['--sub', 'alice'], env)).stdout.trim();
      const base = `http://127.0.0.1:${port}`;
      let sseRunId = '';
      const sse = readSse(await sseRequest(base, token, { agent_id: 'reference', query: QUESTION }), Infinity, (e) => {
        if (e.event === 'start') sseRunId = e.json().run_id as string;
      });
      const ws = await WsClient.connect(`ws://127.0.0.1:${port}/api/v1/stream`, { authorization: `Bearer ${token}` });
      ws.send('query', { agent_id: 'reference', query: QUESTION });
      const wsStart = await ws.waitFor((m) => m.event === 'start');
      await ws.waitFor((m) => m.event === 'chunk');

      const signalled = Date.now();
      stack.child.kill('SIGTERM');

      const reconnect = await ws.waitFor((m) => m.event === 'reconnect');
      expect(reconnect.data.runs).toEqual([{ run_id: wsStart.data.run_id, last_seq: expect.any(Number) }]);
      const { events } = await sse;
      expect(events.at(-1)).toMatchObject({ event: 'reconnect' });
      expect(events.at(-1)!.json()).toMatchObject({ run_id: sseRunId, last_seq: expect.any(Number) });
      expect(await stack.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(200 + 2000 + 1500);
    } finally {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
