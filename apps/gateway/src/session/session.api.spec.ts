import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReferenceAgent, type RunningAgent } from '../../../../test/support/reference-agent';
import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { freshDatabase } from '../../../../test/support/postgres';
import { eventually } from '../../../../test/support/clients';
import { DataSource } from 'typeorm';
import { SessionRetention } from './session-retention';
import { MessageRepository } from './message.repository';
import { SessionRepository } from './session.repository';
import { eraseUser } from './user-erasure';
import { runNpmScript } from '../../../../test/support/npm-script';

type Backend = { name: string; env: () => Promise<Record<string, string>>; cleanup: () => void };

function embedded(): Backend {
  let dir = '';
  return {
    name: 'the embedded database (PGlite)',
    env: () => {
      dir = mkdtempSync(join(tmpdir(), 'gateway-sessions-'));
      return Promise.resolve({ DATA_DIR: dir });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresServer(): Backend {
  return {
    name: 'the Postgres server',
    env: async () => ({ DATABASE_URL: await freshDatabase('agent_gateway_test_sessions') }),
    cleanup: () => undefined,
  };
}

/** A corpus whose one passage holds a NUL, as text extracted from a binary document may: the agent answers with it. */
function corpusWithNul(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-corpus-'));
  writeFileSync(join(dir, 'zebras.md'), '# Zebras\n\nZebra stripes\u0000 are black and white.\n');
  return dir;
}

describe.each([embedded(), postgresServer()])('sessions on $name', (backend) => {
  let agent: RunningAgent;
  let nulAgent: RunningAgent;
  let nulCorpus: string;
  let env: Record<string, string>;
  let gw: TestGateway;
  let alice: string;
  let bob: string;

  const agents = () => [
    { id: 'reference', targets: [agent.target] },
    { id: 'other', targets: [agent.target] },
    { id: 'nul', targets: [nulAgent.target] },
  ];

  beforeAll(async () => {
    agent = await startReferenceAgent();
    nulCorpus = corpusWithNul();
    nulAgent = await startReferenceAgent({}, nulCorpus);
    env = { ...(await backend.env()), SESSION_RETENTION_DAYS: '30' };
    gw = await createTestGateway(agents(), env);
    alice = await gw.tokenFor('alice');
    bob = await gw.tokenFor('bob');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await agent?.stop();
    await nulAgent?.stop();
    rmSync(nulCorpus, { recursive: true, force: true });
    backend.cleanup();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: unknown) =>
    gw.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      payload: payload ? JSON.stringify(payload) : undefined,
    });

  const newSession = async (token = alice, body: object = { agent_id: 'reference' }) => {
    const res = await call('POST', '/api/v1/session', token, body);
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string; state: string }>();
  };

  type SessionJson = { id: string; created_at: string; updated_at: string };

  const ask = (sessionId: string, query: string, token = alice, extra: object = {}) =>
    call('POST', '/api/v1/agent/query', token, { agent_id: 'reference', session_id: sessionId, query, ...extra });

  const allMessages = async (sessionId: string, token = alice) => {
    const res = await call('GET', `/api/v1/session/${sessionId}/messages?limit=200`, token);
    expect(res.statusCode).toBe(200);
    return res.json<{ messages: { id: string; role: string; content: string; metadata: Record<string, unknown> }[] }>()
      .messages;
  };

  it('creates a session for the caller and returns it', async () => {
    const res = await call('POST', '/api/v1/session', alice, { agent_id: 'reference', context: { locale: 'en' } });
    expect(res.statusCode).toBe(201);
    const session = res.json();
    expect(session).toMatchObject({
      agent_id: 'reference',
      state: 'active',
      context: { locale: 'en' },
      closed_at: null,
    });
    expect((await call('GET', `/api/v1/session/${session.id}`, alice)).json()).toEqual(session);
  });

  it('returns 404 for a session of an unknown agent, 400 for an oversized context', async () => {
    expect((await call('POST', '/api/v1/session', alice, { agent_id: 'nobody' })).statusCode).toBe(404);
    const big = { blob: 'x'.repeat(17 * 1024) };
    expect((await call('POST', '/api/v1/session', alice, { agent_id: 'reference', context: big })).statusCode).toBe(
      400,
    );
  });

  it('returns 404 for another user on every route, including queries into the session', async () => {
    const { id } = await newSession(alice);
    for (const res of [
      await call('GET', `/api/v1/session/${id}`, bob),
      await call('GET', `/api/v1/session/${id}/messages`, bob),
      await call('DELETE', `/api/v1/session/${id}`, bob),
      await ask(id, 'what is a deadline?', bob),
    ]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    }
    // Bob's attempts changed nothing.
    expect((await call('GET', `/api/v1/session/${id}`, alice)).json()).toMatchObject({ state: 'active' });
    expect(await allMessages(id)).toEqual([]);
  });

  it('returns 400 for malformed session ids', async () => {
    for (const res of [
      await call('GET', '/api/v1/session/not-a-uuid', alice),
      await call('DELETE', '/api/v1/session/1', alice),
      await call('GET', '/api/v1/session/xyz/messages', alice),
    ]) {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });

  it('stores the question and the answer with sources, usage and latency, and sends history to the agent', async () => {
    const { id } = await newSession();
    expect((await ask(id, 'How are tokens verified?')).statusCode).toBe(200);
    const second = await ask(id, 'and when does it expire?', alice, { options: { note: 'x' } });
    expect(second.statusCode).toBe(200);

    const messages = await allMessages(id);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(messages[0].content).toBe('How are tokens verified?');
    expect(messages[1].content).toMatch(/token/i);
    expect(messages[1].metadata).toMatchObject({
      reply_to: messages[0].id,
      sources: expect.arrayContaining([expect.objectContaining({ title: 'Authentication' })]),
      usage: { total_tokens: expect.any(Number) },
      latency_ms: expect.any(Number),
    });
    expect(messages[3].content).toBe(second.json().answer);
    expect(agent.calls.at(-1)).toMatchObject({ method: 'Query', history_messages: 2 });
  });

  it("sends the session's context to the agent with every query into it: unary, batch item and stream", async () => {
    const context = { locale: 'de', tenant: { id: 7 } };
    const { id } = await newSession(alice, { agent_id: 'reference', context });
    const inSession = { agent_id: 'reference', session_id: id, query: 'what is a deadline?' };
    expect((await ask(id, 'what is a deadline?')).statusCode).toBe(200);
    expect((await call('POST', '/api/v1/agent/batch', alice, { requests: [inSession] })).statusCode).toBe(200);
    const stream = await call('POST', '/api/v1/agent/stream', alice, inSession);
    expect(stream.body).toContain('event: done');
    const [unary, batched, streamed] = agent.calls.slice(-3);
    expect([unary.method, batched.method, streamed.method]).toEqual(['Query', 'Query', 'StreamQuery']);
    for (const entry of [unary, batched, streamed]) expect(entry.context_keys).toEqual(['locale', 'tenant']);

    // Outside a session, and in a session created without one, the agent gets no context.
    const outside = await call('POST', '/api/v1/agent/query', alice, { agent_id: 'reference', query: 'deadlines' });
    expect(outside.statusCode).toBe(200);
    expect(agent.calls.at(-1)!.context_keys).toEqual([]);
    expect((await ask((await newSession()).id, 'what is a deadline?')).statusCode).toBe(200);
    expect(agent.calls.at(-1)!.context_keys).toEqual([]);
  });

  it('replaces the context with PATCH: the agent gets the new one from the next query; not yours 404, closed 409', async () => {
    const { id } = await newSession(alice, { agent_id: 'reference', context: { locale: 'de' } });
    const before = (await call('GET', `/api/v1/session/${id}`, alice)).json<SessionJson>();
    const patched = await call('PATCH', `/api/v1/session/${id}`, alice, { context: { locale: 'fr', tier: 'pro' } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ id, state: 'active', context: { locale: 'fr', tier: 'pro' } });
    expect(patched.json<SessionJson>().updated_at > before.updated_at).toBe(true);
    expect((await call('GET', `/api/v1/session/${id}`, alice)).json()).toEqual(patched.json());
    expect((await ask(id, 'what is a deadline?')).statusCode).toBe(200);
    expect(agent.calls.at(-1)!.context_keys).toEqual(['tier', 'locale']); // jsonb's key order

    for (const body of [
      {},
      { context: [] },
      { context: { big: 'x'.repeat(17 * 1024) } },
      { context: {}, agent_id: 'other' },
    ]) {
      expect((await call('PATCH', `/api/v1/session/${id}`, alice, body)).statusCode).toBe(400);
    }
    const bobs = await call('PATCH', `/api/v1/session/${id}`, bob, { context: { locale: 'en' } });
    expect(bobs.statusCode).toBe(404);
    await call('DELETE', `/api/v1/session/${id}`, alice);
    const closed = await call('PATCH', `/api/v1/session/${id}`, alice, { context: { locale: 'en' } });
    expect(closed.statusCode).toBe(409);
    expect((await call('GET', `/api/v1/session/${id}`, alice)).json()).toMatchObject({
      context: { locale: 'fr', tier: 'pro' },
    });
  });

  it('says in updated_at when a query last went into the session', async () => {
    const session = (await call('POST', '/api/v1/session', alice, { agent_id: 'reference' })).json<SessionJson>();
    expect(session.updated_at).toBe(session.created_at);
    const asked = Date.now();
    await ask(session.id, 'what is a deadline?');
    const after = (await call('GET', `/api/v1/session/${session.id}`, alice)).json<SessionJson>();
    expect(Date.parse(after.updated_at)).toBeGreaterThanOrEqual(asked - 1000);
    expect(after.updated_at > session.updated_at).toBe(true);
    expect(after.created_at).toBe(session.created_at);
  });

  it('keeps the question and marks the answer incomplete with the reason when the agent fails', async () => {
    const { id } = await newSession();
    const res = await ask(id, 'this will fail', alice, { options: { ref_fail: 'unavailable' } });
    expect(res.statusCode).toBe(503);
    const messages = await allMessages(id);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatchObject({ role: 'user', content: 'this will fail' });
    expect(messages[1]).toMatchObject({
      role: 'assistant',
      content: '',
      metadata: { incomplete: true, reason: 'AGENT_UNAVAILABLE', reply_to: messages[0].id },
    });
    // A failed turn with no content is not sent to the agent as history.
    await ask(id, 'how do tokens work?');
    expect(agent.calls.at(-1)).toMatchObject({ history_messages: 1 });
  });

  it('refuses with 400 a question or a context holding text the database cannot store, and stores nothing', async () => {
    const { id } = await newSession();
    for (const query of ['zebra\u0000', 'half a pair: \ud800']) {
      const res = await ask(id, query);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: 'query: must not contain NUL (U+0000) or unpaired surrogate characters',
      });
    }
    for (const context of [{ note: 'a\u0000b' }, { 'k\u0000': 1 }, { deep: [{ x: '\udc00' }] }]) {
      const res = await call('POST', '/api/v1/session', alice, { agent_id: 'reference', context });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/^context: .*NUL/),
      });
    }
    expect(await allMessages(id)).toEqual([]);
  });

  it("stores an agent's answer holding a NUL with U+FFFD in its place, instead of losing the turn", async () => {
    const { id } = await newSession(alice, { agent_id: 'nul' });
    const res = await call('POST', '/api/v1/agent/query', alice, { agent_id: 'nul', session_id: id, query: 'zebra' });
    expect(res.statusCode).toBe(200);
    // The caller gets the answer as the agent gave it; the history keeps what Postgres can hold.
    expect(res.json<{ answer: string }>().answer).toBe('Zebra stripes\u0000 are black and white.');
    const [question, answer] = await allMessages(id);
    expect(question).toMatchObject({ role: 'user', content: 'zebra' });
    expect(answer).toMatchObject({
      role: 'assistant',
      content: 'Zebra stripes\ufffd are black and white.',
      metadata: { sources: [expect.objectContaining({ content: 'Zebra stripes\ufffd are black and white.' })] },
    });
  });

  it('closes a session: it stays readable, and further queries get 409', async () => {
    const { id } = await newSession();
    const closed = await call('DELETE', `/api/v1/session/${id}`, alice);
    expect(closed.statusCode).toBe(200);
    expect(closed.json()).toMatchObject({ state: 'closed', closed_at: expect.any(String) });
    // Many HTTP clients send Content-Type: application/json on every request, bodiless DELETEs included.
    const again = await gw.app.inject({
      method: 'DELETE',
      url: `/api/v1/session/${id}`,
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    });
    expect(again.statusCode).toBe(200);
    const res = await ask(id, 'still there?');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'SESSION_CLOSED' });
    expect(await allMessages(id)).toEqual([]);
  });

  it('refuses a query that names another agent than the session', async () => {
    const { id } = await newSession(alice, { agent_id: 'other' });
    expect((await ask(id, 'hello')).statusCode).toBe(400);
  });

  it('pages messages oldest first with a cursor and a limit', async () => {
    const { id } = await newSession();
    for (const q of ['one', 'two', 'three']) await ask(id, q);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/v1/session/${id}/messages?limit=4${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await call('GET', url, alice)).json<{
        messages: { content: string; role: string }[];
        next_cursor: string | null;
      }>();
      seen.push(...page.messages.filter((m) => m.role === 'user').map((m) => m.content));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(['one', 'two', 'three']);
    expect(pages).toBe(2);
    expect((await call('GET', `/api/v1/session/${id}/messages?limit=0`, alice)).statusCode).toBe(400);
    expect((await call('GET', `/api/v1/session/${id}/messages?cursor=abc`, alice)).statusCode).toBe(400);
  });

  it("lists the caller's own sessions newest first, in pages, narrowed by state and agent", async () => {
    const carol = await gw.tokenFor(`carol-${backend.name}`);
    const created: string[] = [];
    for (const agentId of ['reference', 'other', 'reference', 'reference', 'other']) {
      created.push((await newSession(carol, { agent_id: agentId })).id);
    }
    await newSession(bob);
    expect((await call('DELETE', `/api/v1/session/${created[2]}`, carol)).statusCode).toBe(200);
    type Page = { sessions: { id: string; state: string; agent_id: string }[]; next_cursor: string | null };
    const list = async (query: string) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await call('GET', `/api/v1/session?limit=2${query}${cursor ? `&cursor=${cursor}` : ''}`, carol);
        expect(res.statusCode).toBe(200);
        const page = res.json<Page>();
        ids.push(...page.sessions.map((s) => s.id));
        cursor = page.next_cursor;
      } while (cursor);
      return ids;
    };

    expect(await list('')).toEqual([...created].reverse());
    expect(await list('&state=closed')).toEqual([created[2]]);
    expect(await list('&state=active&agent_id=reference')).toEqual([created[3], created[0]]);
    const [first] = (await call('GET', '/api/v1/session?limit=1', carol)).json<Page>().sessions;
    expect(first).toEqual((await call('GET', `/api/v1/session/${created[4]}`, carol)).json());
    // Another user's session id as a cursor reveals nothing of it: an empty page.
    const bobs = (await call('GET', '/api/v1/session', bob)).json<Page>().sessions[0].id;
    expect((await call('GET', `/api/v1/session?cursor=${bobs}`, carol)).json()).toEqual({
      sessions: [],
      next_cursor: null,
    });
    for (const bad of ['limit=0', 'limit=201', 'cursor=12', 'state=open', 'sort=asc']) {
      const res = await call('GET', `/api/v1/session?${bad}`, carol);
      expect({ bad, status: res.statusCode }).toEqual({ bad, status: 400 });
    }
  });

  it('keeps every message of concurrent queries into one session, each answer after its question', async () => {
    const { id } = await newSession();
    const questions = Array.from({ length: 12 }, (_, i) => `question ${i} about deadlines`);
    const results = await Promise.all(
      questions.map((q) => ask(id, q, alice, { options: { ref_latency_ms: 5 * (q.length % 7) } })),
    );
    expect(results.map((r) => r.statusCode)).toEqual(questions.map(() => 200));
    const messages = await allMessages(id);
    expect(messages).toHaveLength(24);
    expect(
      messages
        .filter((m) => m.role === 'user')
        .map((m) => m.content)
        .sort(),
    ).toEqual([...questions].sort());
    const position = new Map(messages.map((m, i) => [m.id, i]));
    for (const [i, m] of messages.entries()) {
      if (m.role === 'assistant') expect(position.get(m.metadata.reply_to as string)).toBeLessThan(i);
    }
  });

  it("answers each query with the turns answered before it, never a concurrent turn's question without its answer", async () => {
    const { id } = await newSession();
    expect((await ask(id, 'how are tokens verified?')).statusCode).toBe(200);
    const slow = ask(id, 'what happens when the deadline passes?', alice, { options: { ref_latency_ms: 1500 } });
    expect(await eventually(async () => (await allMessages(id)).length === 3, 2000)).toBe(true);

    expect((await ask(id, 'and when does a token expire?')).statusCode).toBe(200);
    expect(agent.calls.at(-1)).toMatchObject({ history_roles: ['user', 'assistant'] });
    expect((await slow).statusCode).toBe(200);

    // Six messages asked as question, question, answer, answer reach the agent as three whole turns.
    expect((await allMessages(id)).map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'user',
      'assistant',
      'assistant',
    ]);
    expect((await ask(id, 'what is a circuit breaker?')).statusCode).toBe(200);
    expect(agent.calls.at(-1)).toMatchObject({
      history_roles: ['user', 'assistant', 'user', 'assistant', 'user', 'assistant'],
    });
  });

  it('deletes sessions unused past SESSION_RETENTION_DAYS with their messages, and keeps any with a recent message', async () => {
    const [old, recent, upgraded] = [await newSession(), await newSession(), await newSession()];
    await ask(old.id, 'an old question');
    await ask(recent.id, 'a recent question');
    await ask(upgraded.id, 'a question asked before updated_at followed queries');
    const db = gw.app.get(DataSource);
    const daysAgo = `now() - interval '31 days'`;
    await db.query(`UPDATE sessions SET updated_at = ${daysAgo} WHERE id IN ($1, $2)`, [old.id, upgraded.id]);
    await db.query(`UPDATE messages SET created_at = ${daysAgo} WHERE session_id = $1`, [old.id]);

    expect(await gw.app.get(SessionRetention).sweep()).toBe(1);
    expect((await call('GET', `/api/v1/session/${old.id}`, alice)).statusCode).toBe(404);
    const left = await db.query(`SELECT count(*)::int AS n FROM messages WHERE session_id = $1`, [old.id]);
    expect(left).toEqual([{ n: 0 }]);
    expect(await allMessages(recent.id)).toHaveLength(2);
    expect(await allMessages(upgraded.id)).toHaveLength(2);
    expect(await gw.app.get(SessionRetention).sweep()).toBe(0);

    // A turn that began as retention deleted its session finds it gone (404), not a failed insert (500).
    const write = gw.app.get(MessageRepository).append({ sessionId: old.id, role: 'user', content: 'too late' });
    await expect(write).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it("erases a user's sessions with their messages, a batch at a time, and nothing of anyone else's", async () => {
    const erin = await gw.tokenFor('erin');
    const hers = [await newSession(erin), await newSession(erin), await newSession(erin)];
    for (const { id } of hers) expect((await ask(id, 'what is a deadline?', erin)).statusCode).toBe(200);
    const bobs = await newSession(bob);
    await ask(bobs.id, 'what is a deadline?', bob);
    const sessions = gw.app.get(SessionRepository);

    expect(await eraseUser(sessions, 'erin', { dryRun: true })).toEqual({ sessions: 3, messages: 6 });
    expect(await allMessages(hers[0].id, erin)).toHaveLength(2);
    expect(await eraseUser(sessions, 'erin', { batch: 2 })).toEqual({ sessions: 3, messages: 6 });
    for (const { id } of hers) expect((await call('GET', `/api/v1/session/${id}`, erin)).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/session', erin)).json()).toEqual({ sessions: [], next_cursor: null });
    expect(await allMessages(bobs.id, bob)).toHaveLength(2);
    expect(await eraseUser(sessions, 'erin')).toEqual({ sessions: 0, messages: 0 });
  });

  it('erases with `npm run erase-user`, on the database the environment names', async () => {
    const frank = await gw.tokenFor('frank');
    const { id } = await newSession(frank);
    await ask(id, 'what is a deadline?', frank);
    await gw.close(); // the embedded database is one process's at a time
    try {
      expect(await runNpmScript('erase-user', env, '--sub', 'frank', '--dry-run')).toBe(
        'would delete 1 session and 2 messages of "frank" (dry run)\n',
      );
      expect(await runNpmScript('erase-user', env, '--sub', 'frank')).toBe(
        'deleted 1 session and 2 messages of "frank"\n',
      );
    } finally {
      gw = await createTestGateway(agents(), env);
    }
    expect((await call('GET', `/api/v1/session/${id}`, frank)).statusCode).toBe(404);
  }, 60_000);

  it('refuses a session past MAX_ACTIVE_SESSIONS_PER_USER with 409 until one is closed', async () => {
    await gw.close();
    try {
      gw = await createTestGateway(agents(), { ...env, MAX_ACTIVE_SESSIONS_PER_USER: '3' });
      const [gina, hank] = [await gw.tokenFor('gina'), await gw.tokenFor('hank')];
      const create = () => call('POST', '/api/v1/session', gina, { agent_id: 'reference' });
      const [first] = [await newSession(gina), await newSession(gina), await newSession(gina)];
      const refused = await create();
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({
        code: 'TOO_MANY_SESSIONS',
        message:
          '3 active sessions is the most a user may have: close one (DELETE /api/v1/session/:id) to open another',
      });
      expect((await newSession(hank)).state).toBe('active');

      expect((await call('DELETE', `/api/v1/session/${first.id}`, gina)).statusCode).toBe(200);
      expect((await create()).statusCode).toBe(201);
      expect((await create()).statusCode).toBe(409);
      const listed = (await call('GET', '/api/v1/session', gina)).json<{ sessions: { state: string }[] }>();
      expect(listed.sessions.map((session) => session.state).sort()).toEqual(['active', 'active', 'active', 'closed']);
    } finally {
      await gw.close();
      gw = await createTestGateway(agents(), env);
    }
  }, 60_000);

  it('never lets concurrent creates pass the bound on active sessions', async () => {
    const sessions = gw.app.get(SessionRepository);
    // More at once than the pool has connections: without the per-user lock, each would count 0 and insert.
    const made = await Promise.all(Array.from({ length: 20 }, () => sessions.create('ida', 'reference', {}, 3)));
    expect(made.filter((session) => session !== null)).toHaveLength(3);
  });

  it('keeps sessions and messages across a restart', async () => {
    const { id } = await newSession();
    await ask(id, 'remember this question');
    await gw.close();
    gw = await createTestGateway(agents(), env);
    expect((await call('GET', `/api/v1/session/${id}`, alice)).statusCode).toBe(200);
    expect((await allMessages(id)).map((m) => m.content)).toContain('remember this question');
  }, 60_000);
});
