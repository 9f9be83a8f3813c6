import { credentials, status } from '@grpc/grpc-js';
import { HealthClient } from '../../apps/gateway/src/agent/health-client';
import { createTestGateway, type TestGateway } from '../support/gateway';
import { cancelRun, eventually, readSse, readSseNotingRun, sseRequest } from '../support/clients';
import { runWithAgentModule, startPythonAgent, type PythonAgent } from '../support/python-agent';

/** The gateway in front of the example Python agent (grpcio from Debian), as a team would run it. */
describe('the gateway with the Python agent', () => {
  let python: PythonAgent;
  const output = () => python.output();
  let gw: TestGateway;
  let base: string;
  let token: string;

  beforeAll(async () => {
    python = await startPythonAgent('--tokens-per-second', '10');
    gw = await createTestGateway([{ id: 'py', targets: [python.target] }]);
    base = await gw.listen();
    token = await gw.tokenFor('alice');
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    python?.process.kill('SIGTERM');
  });

  it('answers a query with sources and usage', async () => {
    const res = await fetch(`${base}/api/v1/agent/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'py-query-1' },
      body: JSON.stringify({ agent_id: 'py', query: 'what is a deadline?' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { answer: string; sources: { id: string }[]; usage: { total_tokens: number } };
    expect(body.answer).toMatch(/deadline/);
    expect(body.sources[0].id).toBe('deadline');
    expect(body.usage.total_tokens).toBeGreaterThan(0);
    expect(await eventually(() => output().includes('"request_id": "py-query-1"'))).toBe(true);
  });

  it('streams an answer to its done event', async () => {
    const { events } = await readSse(
      await sseRequest(base, token, { agent_id: 'py', query: 'tell me about streams', options: { py_gap_s: 0 } }),
    );
    expect(events.at(-1)!.event).toBe('done');
    expect(events.at(-1)!.json().answer).toMatch(/Server-Sent Events/);
  });

  it('cancels a stream, and the Python side sees the cancellation', async () => {
    const { reading, runId } = readSseNotingRun(
      await sseRequest(
        base,
        token,
        { agent_id: 'py', query: 'tell me about streams and python' },
        { 'x-request-id': 'py-cancel-1' },
      ),
    );
    expect(await eventually(() => runId() !== '')).toBe(true);
    await cancelRun(base, token, runId());
    const { events } = await reading;
    expect(events.at(-1)!.json()).toMatchObject({ code: 'REQUEST_CANCELLED' });
    expect(await eventually(() => /"msg": "cancelled".*"request_id": "py-cancel-1"/.test(output()), 3000)).toBe(true);
  });

  it("answers in a session from the session's context, unary and streamed", async () => {
    const post = (path: string, body: object) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const refunds = 'Refunds are paid back within five working days.';
    const created = await post('/api/v1/session', { agent_id: 'py', context: { notes: { refund: refunds } } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const query = { agent_id: 'py', session_id: id, query: 'how do refunds work?' };

    const answered = await post('/api/v1/agent/query', query);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ answer: refunds, sources: [{ id: 'refund', content: refunds }] });
    const { events } = await readSse(await sseRequest(base, token, { ...query, options: { py_gap_s: 0 } }));
    expect((events.at(-1)!.json() as { answer: string }).answer.trim()).toBe(refunds);
    // The note is the session's own: the same question outside it does not find it.
    const outside = await post('/api/v1/agent/query', { agent_id: 'py', query: query.query });
    expect(((await outside.json()) as { answer: string }).answer).not.toContain(refunds);
  });

  it('is ready when the Python agent answers grpc.health.v1', async () => {
    const res = await fetch(`${base}/health/ready`);
    expect(res.status).toBe(200);
  });
});

describe('the Python agent with --max-workers', () => {
  let python: PythonAgent;
  let gw: TestGateway;

  beforeAll(async () => {
    python = await startPythonAgent('--tokens-per-second', '40', '--max-workers', '1');
    gw = await createTestGateway([{ id: 'py', targets: [python.target] }]);
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    python?.process.kill('SIGTERM');
  });

  it('runs that many calls at once: a second stream starts only when the first has ended', async () => {
    const base = await gw.listen();
    const token = await gw.tokenFor('alice');
    const chunksAt: Record<string, number[]> = { first: [], second: [] };
    const stream = async (name: string) =>
      readSse(
        await sseRequest(base, token, { agent_id: 'py', query: 'tell me about streams and python' }),
        Infinity,
        (e) => {
          if (e.event === 'chunk') chunksAt[name].push(performance.now());
        },
      );
    const first = stream('first');
    expect(await eventually(() => chunksAt.first.length > 0)).toBe(true);
    await Promise.all([first, stream('second')]);
    // The agent waits a token's time (25 ms) after the first stream's last piece before it ends that
    // call; only then is its one worker free for the second.
    expect(chunksAt.first.length).toBeGreaterThan(5);
    expect(chunksAt.second[0]).toBeGreaterThan(chunksAt.first.at(-1)!);
  }, 30_000);
});

/** grpc.health.v1 as orchestrators and load balancers use it: Check, and Watch for changes. */
describe("the Python agent's health service", () => {
  let python: PythonAgent;
  let health: HealthClient;

  beforeAll(async () => {
    python = await startPythonAgent();
    health = new HealthClient(python.target, credentials.createInsecure(), {});
  }, 30_000);

  afterAll(() => {
    health?.close();
    python?.process.kill('SIGKILL');
  });

  const check = (service: string) =>
    new Promise<{ status?: string | number; code?: number }>((resolve) =>
      health.Check({ service }, { deadline: new Date(Date.now() + 2000) }, (error, response) =>
        resolve(error ? { code: error.code } : response!),
      ),
    );

  it('answers Check for the server and the agent service, and NOT_FOUND for any other', async () => {
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('agent.AgentService')).toEqual({ status: 'SERVING' });
    expect(await check('no.Such')).toEqual({ code: status.NOT_FOUND });
  });

  it('sends a watcher the status, then NOT_SERVING as soon as shutdown starts', async () => {
    const seen: (string | number)[] = [];
    const watch = health.Watch({ service: '' });
    watch.on('data', (r: { status: string | number }) => seen.push(r.status));
    watch.on('error', () => undefined); // the server ends the call once its grace period is over
    expect(await eventually(() => seen.length === 1)).toBe(true);
    python.process.kill('SIGTERM');
    expect(await eventually(() => seen.length === 2, 3000)).toBe(true);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    watch.cancel();
  });
});

describe("the Python agent's plug-in check", () => {
  it('refuses at start an agent written for the three-argument answer(), instead of failing every call', async () => {
    const { exitCode, output } = await runWithAgentModule(`
import agent_server
class Old:
    def answer(self, query, history, options):
        return "x", [], None
    def stream(self, query, history, options):
        yield "x"
agent_server.serve(Old(), "127.0.0.1", 0, 20)
`);
    expect(exitCode).toBe(1);
    expect(output).toContain('Old.answer() must take (query, history, options, context)');
    expect(output).not.toContain('"listening"');
  });
});
