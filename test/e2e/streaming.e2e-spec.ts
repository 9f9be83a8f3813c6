import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestGateway, type TestGateway } from '../support/gateway';
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
import { freePort, spawnBuilt, type Spawned } from '../support/processes';
import { startReferenceAgent, type RunningAgent } from '../support/reference-agent';

const QUESTION = 'what happens when the deadline passes?';

describe('streaming over SSE and WebSocket', () => {
  let agent: RunningAgent;
  let gw: TestGateway;
  let base: string;
  let token: string;

  beforeAll(async () => {
    agent = await startReferenceAgent({ tokensPerSecond: 200 });
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
      STREAM_RESUME_WINDOW_MS: '400',
      STREAM_HEARTBEAT_MS: '200',
      MAX_STREAMS_PER_USER: '3',
      ALLOWED_ORIGINS: 'https://app.example',
    });
    base = await gw.listen();
    token = await gw.tokenFor('alice');
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  const activeAgentCalls = () => agent.server.stats().active;

  describe('SSE', () => {
    it('streams start, numbered chunks, then exactly one done with the full answer, then [DONE]', async () => {
      const res = await sseRequest(base, token, { agent_id: 'reference', query: QUESTION });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      // Like every response: the request id and the caller's rate-limit budget.
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.headers.get('ratelimit-policy')).toMatch(/;w=\d+/);
      expect(Number(res.headers.get('ratelimit-remaining'))).toBeGreaterThanOrEqual(0);
      const { events, sawDone } = await readSse(res);
      expect(sawDone).toBe(true);
      expect(events[0].event).toBe('start');
      const runId = events[0].json().run_id as string;
      expect(events.every((e, i) => e.id === `${runId}:${i}`)).toBe(true);
      const chunks = events.filter((e) => e.event === 'chunk');
      expect(chunks.length).toBeGreaterThan(5);
      const terminal = events.filter((e) => e.event === 'done' || e.event === 'error');
      expect(terminal.map((e) => e.event)).toEqual(['done']);
      const done = events.at(-1)!.json();
      expect(done.answer).toBe(chunks.map((c) => c.json().text).join(''));
      expect(done).toMatchObject({ sources: expect.any(Array), usage: { total_tokens: expect.any(Number) } });
      expect((done.sources as unknown[]).length).toBeGreaterThan(0);
    });

    it('sends heartbeat comments while the agent is quiet', async () => {
      const res = await sseRequest(base, token, {
        agent_id: 'reference',
        query: QUESTION,
        options: { ref_latency_ms: 700 },
      });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes(': ping')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect(text).toContain(': ping');
    });

    it('resumes after a disconnect with Last-Event-ID: the rest, without gaps or repeats', async () => {
      const slow = { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 40 } };
      const first = await readSse(await sseRequest(base, token, slow), 4);
      const last = first.events.at(-1)!;
      const rest = await readSse(await sseRequest(base, token, slow, { 'last-event-id': last.id! }));
      const all = [...first.events, ...rest.events];
      const runId = first.events[0].json().run_id as string;
      expect(all.map((e) => e.id)).toEqual(all.map((_, i) => `${runId}:${i}`));
      expect(rest.sawDone).toBe(true);
      const text = all
        .filter((e) => e.event === 'chunk')
        .map((e) => e.json().text)
        .join('');
      expect(all.at(-1)!.json().answer).toBe(text);
    });

    it('opens one stream from a browser EventSource with a short-lived ticket, never another, nor elsewhere', async () => {
      const ticket = await streamTicket(base, token);
      const url = `${base}/api/v1/agent/stream?agent_id=reference&query=${encodeURIComponent(QUESTION)}`;
      expect((await fetch(`${url}&ticket=forged.${ticket.slice(7)}`)).status).toBe(401);
      expect((await fetch(`${base}/api/v1/agents?ticket=${ticket}`)).status).toBe(401);
      const { events } = await readSse(await fetch(`${url}&ticket=${ticket}`));
      expect(events.at(-1)!.event).toBe('done');
      expect((await fetch(url)).status).toBe(401);
      // A URL copied from a log or a browser's history opens nothing once its stream was opened.
      const again = await fetch(`${url}&ticket=${ticket}`);
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({ message: 'stream ticket already used: get a new one' });
    });

    it('cancels on request: the agent sees CANCELLED within a second and the client gets an error event', async () => {
      const res = await sseRequest(base, token, {
        agent_id: 'reference',
        query: QUESTION,
        options: { ref_tokens_per_second: 5 },
      });
      const { reading, runId } = readSseNotingRun(res);
      expect(await eventually(() => runId() !== '' && activeAgentCalls() === 1)).toBe(true);
      const cancelledBefore = agent.server.stats().cancelled;
      const cancel = await cancelRun(base, token, runId());
      expect(cancel.status).toBe(202);
      expect(await eventually(() => activeAgentCalls() === 0, 1000)).toBe(true);
      expect(agent.server.stats().cancelled).toBe(cancelledBefore + 1);
      const { events } = await reading;
      expect(events.at(-1)).toMatchObject({ event: 'error' });
      expect(events.at(-1)!.json()).toMatchObject({ code: 'REQUEST_CANCELLED' });
    });

    it('keeps a run alive for the resume window after a disconnect, then cancels the agent call', async () => {
      const res = await sseRequest(base, token, {
        agent_id: 'reference',
        query: QUESTION,
        options: { ref_tokens_per_second: 5 },
      });
      await readSse(res, 2);
      const left = Date.now();
      expect(activeAgentCalls()).toBe(1);
      await sleep(200);
      expect(activeAgentCalls()).toBe(1); // still inside the 400 ms window
      expect(await eventually(() => activeAgentCalls() === 0, 2000)).toBe(true);
      expect(Date.now() - left).toBeGreaterThanOrEqual(350);
    });

    it('answers 404 for a run that is not yours, 400 for a bad after_seq, 429 past the per-user stream limit', async () => {
      const mine = await readSse(await sseRequest(base, token, { agent_id: 'reference', query: QUESTION }), 1);
      const runId = mine.events[0].json().run_id as string;
      const bob = await gw.tokenFor('bob');
      expect(
        (await fetch(`${base}/api/v1/agent/stream/${runId}`, { headers: { authorization: `Bearer ${bob}` } })).status,
      ).toBe(404);
      expect(
        (await sseRequest(base, bob, { agent_id: 'reference', query: 'q' }, { 'last-event-id': `${runId}:0` })).status,
      ).toBe(404);
      for (const afterSeq of ['', '1e3', '0x10', '-2', '1.5']) {
        const resumed = await fetch(`${base}/api/v1/agent/stream/${runId}?after_seq=${afterSeq}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect({ afterSeq, status: resumed.status }).toEqual({ afterSeq, status: 400 });
      }

      const slow = { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 2 } };
      const open = await Promise.all([1, 2, 3].map(() => sseRequest(base, bob, slow)));
      expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
      const refused = await sseRequest(base, bob, slow);
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ code: 'TOO_MANY_STREAMS' });
      await Promise.all(open.map((r) => r.body!.cancel()));
    });

    it('answers 404 for an unknown agent and 400 for a bad query before any event', async () => {
      expect((await sseRequest(base, token, { agent_id: 'nobody', query: 'q' })).status).toBe(404);
      expect((await sseRequest(base, token, { agent_id: 'reference', query: '' })).status).toBe(400);
    });

    it('answers HEAD on a stream route with 405, starting no agent call', async () => {
      const callsBefore = agent.server.stats().total;
      const params = new URLSearchParams({ agent_id: 'reference', query: QUESTION });
      for (const path of [`agent/stream?${params.toString()}`, `agent/stream/${randomUUID()}`]) {
        const res = await fetch(`${base}/api/v1/${path}`, {
          method: 'HEAD',
          headers: { authorization: `Bearer ${token}` },
        });
        expect({ path, status: res.status, allow: res.headers.get('allow') }).toEqual({
          path,
          status: 405,
          allow: 'GET',
        });
      }
      await sleep(100);
      expect(agent.server.stats().total).toBe(callsBefore);
    });

    it('ends with an error event, never a clean done, when the agent fails mid-stream', async () => {
      const res = await sseRequest(base, token, {
        agent_id: 'reference',
        query: QUESTION,
        options: { ref_fail: 'unavailable', ref_fail_after_chunks: 3 },
      });
      const { events, sawDone } = await readSse(res);
      expect(events.filter((e) => e.event === 'chunk')).toHaveLength(3);
      expect(events.at(-1)!.event).toBe('error');
      expect(events.at(-1)!.json()).toMatchObject({ code: 'AGENT_UNAVAILABLE' });
      expect(events.some((e) => e.event === 'done')).toBe(false);
      expect(sawDone).toBe(true);
    });
  });

  describe('WebSocket', () => {
    const wsUrl = () => base.replace('http', 'ws') + '/api/v1/stream';

    it('refuses the upgrade without a token or from a bad origin, with the same JSON error as a request', async () => {
      const refusal = (headers: Record<string, string> = {}) =>
        WsClient.connect(wsUrl(), headers).then(
          (ws) => (ws.close(), undefined),
          (error: unknown) => {
            const { status, headers: answer, body } = error as UpgradeRefused;
            return { status, type: answer['content-type'], requestId: answer['x-request-id'], body: JSON.parse(body) };
          },
        );
      const error = (status: number, code: string, message: string, requestId: unknown = expect.any(String)) => ({
        status,
        type: 'application/json; charset=utf-8',
        requestId,
        body: { status, code, message, request_id: requestId },
      });
      expect(await refusal()).toEqual(error(401, 'UNAUTHENTICATED', 'missing bearer token'));
      expect(await refusal({ authorization: 'Bearer nope', 'x-request-id': 'mine-1' })).toEqual(
        error(401, 'UNAUTHENTICATED', 'invalid token', 'mine-1'),
      );
      expect(await refusal({ authorization: `Bearer ${token}`, origin: 'https://evil.example' })).toEqual(
        error(403, 'FORBIDDEN', 'origin not allowed'),
      );
      expect(await refusal({ authorization: `Bearer ${token}`, origin: 'https://app.example' })).toBeUndefined();
    });

    it('opens one socket with a ticket (a browser WebSocket sends no headers), and not a second', async () => {
      const url = `${wsUrl()}?ticket=${await streamTicket(base, token)}`;
      const ws = await WsClient.connect(url);
      ws.send('query', { agent_id: 'reference', query: QUESTION });
      await ws.waitFor((m) => m.event === 'done');
      ws.close();
      const refused = await WsClient.connect(url).then(
        () => undefined,
        (error: UpgradeRefused) => ({ status: error.status, message: JSON.parse(error.body).message as string }),
      );
      expect(refused).toEqual({ status: 401, message: 'stream ticket already used: get a new one' });
    });

    it('multiplexes two runs on one socket, each to its own done', async () => {
      const ws = await WsClient.connect(wsUrl(), { authorization: `Bearer ${token}` });
      ws.send('query', { agent_id: 'reference', query: QUESTION });
      ws.send('query', { agent_id: 'reference', query: 'how are tokens verified?' });
      const starts = await eventually(() => ws.messages.filter((m) => m.event === 'start').length === 2);
      expect(starts).toBe(true);
      const runIds = ws.messages.filter((m) => m.event === 'start').map((m) => m.data.run_id as string);
      for (const runId of runIds) {
        const done = await ws.waitFor((m) => m.event === 'done' && m.data.run_id === runId);
        const text = ws.messages
          .filter((m) => m.event === 'chunk' && m.data.run_id === runId)
          .map((m) => m.data.text)
          .join('');
        expect(done.data.answer).toBe(text);
      }
      ws.close();
    });

    it('answers a malformed frame with an error event and keeps the socket open', async () => {
      const ws = await WsClient.connect(wsUrl(), { authorization: `Bearer ${token}` });
      ws.socket.send('{not json');
      ws.send('launch', {});
      ws.send('query', { agent_id: 'reference' });
      ws.socket.send('[1, 2]');
      await eventually(() => ws.messages.filter((m) => m.event === 'error').length === 4);
      expect(ws.messages.map((m) => m.data.code)).toEqual([
        'MALFORMED_JSON',
        'VALIDATION_FAILED',
        'VALIDATION_FAILED',
        'VALIDATION_FAILED',
      ]);
      expect(ws.messages[0].data.message).toBe('frame is not valid JSON');
      expect(ws.messages.map((m) => m.data.message).slice(2)).toEqual([
        'data.query: Invalid input: expected string, received undefined',
        'Invalid input: expected object, received array',
      ]);
      ws.send('query', { agent_id: 'reference', query: QUESTION });
      await ws.waitFor((m) => m.event === 'done');
      ws.close();
    });

    it('cancels a run: the agent call ends within a second', async () => {
      const ws = await WsClient.connect(wsUrl(), { authorization: `Bearer ${token}` });
      ws.send('query', { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 5 } });
      const start = await ws.waitFor((m) => m.event === 'start');
      await ws.waitFor((m) => m.event === 'chunk');
      ws.send('cancel', { run_id: start.data.run_id });
      const error = await ws.waitFor((m) => m.event === 'error');
      expect(error.data).toMatchObject({ code: 'REQUEST_CANCELLED', run_id: start.data.run_id });
      expect(await eventually(() => activeAgentCalls() === 0, 1000)).toBe(true);
      ws.close();
    });

    it('resumes a run on a new socket after the old one dropped', async () => {
      const first = await WsClient.connect(wsUrl(), { authorization: `Bearer ${token}` });
      first.send('query', { agent_id: 'reference', query: QUESTION, options: { ref_tokens_per_second: 40 } });
      const start = await first.waitFor((m) => m.event === 'start');
      await eventually(() => first.messages.filter((m) => m.event === 'chunk').length >= 3);
      first.socket.terminate();
      const seen = first.messages.filter((m) => m.data.run_id === start.data.run_id);
      const lastSeq = seen.at(-1)!.data.seq as number;

      const second = await WsClient.connect(wsUrl(), { authorization: `Bearer ${token}` });
      second.send('resume', { run_id: start.data.run_id, after_seq: lastSeq });
      const done = await second.waitFor((m) => m.event === 'done');
      const all = [...seen, ...second.messages];
      expect(all.map((m) => m.data.seq)).toEqual(all.map((_, i) => i));
      const text = all
        .filter((m) => m.event === 'chunk')
        .map((m) => m.data.text)
        .join('');
      expect(done.data.answer).toBe(text);
      second.close();
    });
  });
});

describe('streaming when the agent process dies', () => {
  let agent: Spawned;
  let gw: TestGateway;

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  it('sends an error event, not a clean end', async () => {
    const port = await freePort();
    agent = spawnBuilt('apps/reference-agent/src/main.js', { AGENT_PORT: String(port), AGENT_TOKENS_PER_SECOND: '20' });
    await agent.waitFor(/listening/);
    gw = await createTestGateway([{ id: 'reference', targets: [`127.0.0.1:${port}`] }]);
    const base = await gw.listen();
    const res = await sseRequest(base, await gw.tokenFor('alice'), { agent_id: 'reference', query: QUESTION });
    const reading = readSse(res);
    await sleep(300);
    agent.child.kill('SIGKILL');
    const { events, sawDone } = await reading;
    expect(events.some((e) => e.event === 'chunk')).toBe(true);
    expect(events.at(-1)!.event).toBe('error');
    expect(events.at(-1)!.json()).toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    expect(sawDone).toBe(true);
  }, 30_000);
});

describe('an EventSource reconnecting after its ticket expired', () => {
  let agent: RunningAgent;
  let gw: TestGateway;

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
  });

  it('resumes its run with the same URL and Last-Event-ID, but cannot open a new one with it', async () => {
    agent = await startReferenceAgent({ tokensPerSecond: 200 });
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
      STREAM_TICKET_TTL_SECONDS: '5',
      STREAM_RESUME_WINDOW_MS: '20000',
    });
    const base = await gw.listen();
    const ticket = await streamTicket(base, await gw.tokenFor('alice'));
    // The URL an EventSource keeps, and reconnects to by itself.
    const url = `${base}/api/v1/agent/stream?agent_id=reference&query=${encodeURIComponent(QUESTION)}&ticket=${ticket}`;
    const first = await readSse(await fetch(url), 2);
    const lastEventId = first.events[1].id!;

    await sleep(6_000); // past the ticket's 5 s: the run is finished, and readable for the resume window
    const rest = await fetch(url, { headers: { 'last-event-id': lastEventId } });
    expect(rest.status).toBe(200);
    const { events } = await readSse(rest);
    expect(events[0].id).toBe(`${lastEventId.split(':')[0]}:2`);
    expect(events.at(-1)!.event).toBe('done');

    const runId = lastEventId.split(':')[0];
    expect((await fetch(`${base}/api/v1/agent/stream/${runId}?after_seq=1&ticket=${ticket}`)).status).toBe(200);
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'last-event-id': '' } })).status).toBe(401);
  }, 30_000);
});
