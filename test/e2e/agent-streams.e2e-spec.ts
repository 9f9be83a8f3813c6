import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { AgentClient } from '../../apps/gateway/src/agent/agent-client';
import { CancelSignal } from '../../apps/gateway/src/common/cancel-signal';
import { AppConfig } from '../../apps/gateway/src/config/app-config';
import { ErrorCode } from '../../apps/gateway/src/errors/error-code';
import { MetricsService } from '../../apps/gateway/src/observability/metrics.service';
import { eventually } from '../support/clients';
import { collected } from '../support/gc';
import { TEST_JWT_SECRET } from '../support/gateway';
import { startPythonAgent, type PythonAgent } from '../support/python-agent';
import { startReferenceAgent, type RunningAgent } from '../support/reference-agent';

const LEAVING = 1_150; // past the 1,000 resets at once that Node's HTTP/2 server lets a client send
const STAYING = 20;

interface StormStream {
  chunks: number;
  cancel: CancelSignal;
  outcome: Promise<string>;
}

interface Storm {
  leaving: StormStream[];
  staying: StormStream[];
}

/**
 * Opens LEAVING + STAYING streams with `open`, waits (up to `waitMs`) until `ready` says they are
 * all under way, then cancels the LEAVING ones at once.
 */
async function storm(
  open: (signal: CancelSignal | undefined, onChunk: () => void) => Promise<string>,
  ready: (streams: Storm) => boolean,
  waitMs: number,
): Promise<Storm> {
  const streams = (n: number, leaving: boolean) =>
    Array.from({ length: n }, () => {
      const stream: StormStream = { chunks: 0, cancel: new CancelSignal(), outcome: Promise.resolve('') };
      stream.outcome = open(leaving ? stream.cancel : undefined, () => (stream.chunks += 1));
      return stream;
    });
  const opened = { leaving: streams(LEAVING, true), staying: streams(STAYING, false) };
  expect(await eventually(() => ready(opened), waitMs)).toBe(true);
  for (const stream of opened.leaving) stream.cancel.cancel();
  return opened;
}

/** The streams that stayed still get chunks a moment later, and none of them has ended. */
async function expectStillStreaming(staying: StormStream[]): Promise<void> {
  const before = staying.map((s) => s.chunks);
  await sleep(1_500);
  expect(staying.every((s, i) => s.chunks > before[i])).toBe(true);
  const settledEarly = await Promise.race([Promise.any(staying.map((s) => s.outcome)), sleep(0, 'none')]);
  expect(settledEarly).toBe('none');
}

/** The agent client on its own (no HTTP) in front of agent entries (`ref` alone by default), with its metrics. */
function agentClientFor(
  target: string,
  entry: object,
  ids = ['ref'],
): { client: AgentClient; metrics: MetricsService } {
  const config = AppConfig.fromEnv({
    JWT_SECRET: TEST_JWT_SECRET,
    AGENTS: JSON.stringify(ids.map((id) => ({ id, targets: [target], ...entry }))),
  });
  const metrics = new MetricsService();
  return { client: new AgentClient(config, metrics), metrics };
}

const gauge = async (metrics: MetricsService, name: string) =>
  (await metrics.registry.getSingleMetric(name)!.get()).values[0];

/** One streamed answer (from `ref` by default); resolves with 'finished' or the error code it ended with. */
function streamFrom(
  client: AgentClient,
  options: Record<string, string>,
  {
    signal,
    onChunk = () => undefined,
    firstChunkMs = 10_000,
    agentId = 'ref',
  }: { signal?: CancelSignal; onChunk?: () => void; firstChunkMs?: number; agentId?: string },
): Promise<string> {
  return client
    .stream(
      agentId,
      {
        session_id: '',
        agent_id: agentId,
        query: 'what does a circuit breaker do',
        options,
        history: [],
        request_id: 'agent-streams',
        context_json: '',
      },
      { userId: 'u', requestId: 'agent-streams', signal },
      { firstChunkMs, idleMs: 10_000, maxDurationMs: 60_000 },
      { onChunk },
    )
    .then(
      () => 'finished',
      (error: { code?: string }) => error.code ?? 'unknown',
    );
}

/**
 * A mass disconnect (a network blip, a front-end deploy closing every tab) cancels a thousand
 * streams at once. Against an HTTP/2 server with a rapid-reset defence (Node's, so any grpc-js
 * agent), that must not take down the connection the other users' calls share.
 */
describe('a mass cancel of agent streams', () => {
  let agent: RunningAgent;
  let client: AgentClient;
  let metrics: MetricsService;

  const clientFor = (cancelPacing?: object, ids?: string[]) =>
    ({ client, metrics } = agentClientFor(
      agent.target,
      {
        max_in_flight: 5_000,
        breaker: { volume_threshold: 5 },
        ...(cancelPacing ? { cancel_pacing: cancelPacing } : {}),
      },
      ids,
    ));

  /**
   * Every stream open at the agent and a first chunk on each that stays, then LEAVING cancelled. The
   * streams go to `ids` in turn.
   */
  const referenceStorm = (ids = ['ref']) => {
    let opened = 0;
    return storm(
      (signal, onChunk) =>
        streamFrom(client, { ref_tokens_per_second: '2' }, { signal, onChunk, agentId: ids[opened++ % ids.length] }),
      ({ staying }) => agent.server.stats().active === LEAVING + STAYING && staying.every((s) => s.chunks > 0),
      20_000,
    );
  };

  beforeEach(async () => {
    agent = await startReferenceAgent();
  });

  afterEach(async () => {
    await agent.stop(); // first: flushing the queued cancels into a live agent would be a storm
    client.onApplicationShutdown();
  });

  it('keeps the other calls on the connection alive, and the breaker closed', async () => {
    clientFor(); // the default pacing
    const { leaving, staying } = await referenceStorm();

    // The leaving clients are let go at once, whatever the pacing does with the agent calls.
    const outcomes = await Promise.all(leaving.map((s) => s.outcome));
    expect(new Set(outcomes)).toEqual(new Set([ErrorCode.REQUEST_CANCELLED]));

    await expectStillStreaming(staying);

    const answer = await client.query(
      'ref',
      {
        session_id: '',
        agent_id: 'ref',
        query: 'retries',
        options: {},
        history: [],
        request_id: 'after',
        context_json: '',
      },
      { userId: 'u', requestId: 'after' },
    );
    expect(answer.answer.length).toBeGreaterThan(0);
    expect((await gauge(metrics, 'gateway_circuit_breaker_state')).value).toBe(0); // closed

    // The agent saw the burst cancelled at once; the rest wait their turn.
    expect((await gauge(metrics, 'gateway_agent_cancels_pending')).value).toBeGreaterThan(0);
    expect(agent.server.stats().cancelled).toBeGreaterThanOrEqual(500);
    expect(agent.server.stats().cancelled).toBeLessThan(LEAVING);
  }, 60_000);

  it('gives each agent served at one address a connection of its own, whose cancels its pacing holds', async () => {
    // Two agents in one server process (one address): each paces its own cancels within the
    // server's limit of 1,000 at once, which only holds if each has its own connection.
    clientFor({ burst: 600, per_second: 25 }, ['a', 'b']);
    const { staying } = await referenceStorm(['a', 'b']);
    await expectStillStreaming(staying);
  }, 60_000);

  it('keeps reading a call that waits for its cancel, so an answer the agent finishes meanwhile ends it', async () => {
    clientFor({ burst: 1, per_second: 1 });
    const pending = async () => (await gauge(metrics, 'gateway_agent_cancels_pending')).value;
    // The agent thinks for 400 ms, then streams its whole answer at once, before the first paced cancel:
    // 200 chunks, more than a paused call takes in unread.
    const options = { ref_latency_ms: '400', ref_tokens_per_second: '0', ref_repeat: '20' };
    const cancels = Array.from({ length: 6 }, () => new CancelSignal());
    const outcomes = cancels.map((signal) => streamFrom(client, options, { signal }));
    expect(await eventually(() => agent.server.stats().active === cancels.length)).toBe(true);
    for (const signal of cancels) signal.cancel();
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set([ErrorCode.REQUEST_CANCELLED]));
    expect(await pending()).toBe(cancels.length - 1);

    // A paused call would hold its answer unread, its end unseen, until its turn a few seconds later:
    // memory that grows with every chunk an abandoned stream is sent.
    expect(await eventually(async () => (await pending()) === 0, 2_500)).toBe(true);
    expect(agent.server.stats()).toMatchObject({ active: 0, cancelled: 1 });
  });

  it('keeps no run alive while its call waits for the cancel', async () => {
    clientFor({ burst: 1, per_second: 1 });
    // What a run holds on to (its chunk handler) is only referenced through the stream it started.
    const handlers = await (async () => {
      const streams = Array.from({ length: 4 }, () => ({ cancel: new CancelSignal(), chunks: 0 }));
      const outcomes = streams.map((s) =>
        streamFrom(
          client,
          { ref_tokens_per_second: '5', ref_repeat: '20' },
          {
            signal: s.cancel,
            onChunk: () => (s.chunks += 1),
          },
        ),
      );
      expect(await eventually(() => streams.every((s) => s.chunks > 0))).toBe(true);
      for (const s of streams) s.cancel.cancel();
      await Promise.all(outcomes);
      return streams.map((s) => new WeakRef(s));
    })();
    expect(await collected(handlers)).toEqual([true, true, true, true]);
    expect((await gauge(metrics, 'gateway_agent_cancels_pending')).value).toBeGreaterThanOrEqual(2);
  });

  it('(why) without pacing the same storm fails the calls that stayed', async () => {
    clientFor({ burst: 1_000_000, per_second: 1_000_000 });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const { staying } = await referenceStorm();
      const outcomes = await Promise.all(staying.map((s) => s.outcome));
      expect(outcomes).toContain(ErrorCode.AGENT_ERROR);
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ details: expect.stringContaining('Session closed') }),
        'agent call failed',
      );
    } finally {
      warn.mockRestore();
    }
  }, 60_000);
});

/**
 * The same storm against the example Python agent with no pacing: grpcio has no rapid-reset limit,
 * which is what the READMEs' advice for such agents (cancel at once) rests on.
 */
describe('a mass cancel of streams from a grpcio agent, unpaced', () => {
  let python: PythonAgent;
  let client: AgentClient;
  let metrics: MetricsService;

  beforeAll(async () => {
    python = await startPythonAgent('--tokens-per-second', '1', '--max-workers', String(LEAVING + STAYING + 10));
    ({ client, metrics } = agentClientFor(python.target, {
      max_in_flight: 5_000,
      breaker: { volume_threshold: 5 },
      cancel_pacing: { burst: 100_000, per_second: 1_000 },
    }));
  }, 30_000);

  afterAll(() => {
    client?.onApplicationShutdown();
    python?.process.kill('SIGTERM');
  });

  it('keeps the other calls on the connection alive', async () => {
    const { leaving, staying } = await storm(
      (signal, onChunk) => streamFrom(client, {}, { signal, onChunk }),
      (streams) => [...streams.leaving, ...streams.staying].every((s) => s.chunks > 0),
      30_000,
    );

    expect(new Set(await Promise.all(leaving.map((s) => s.outcome)))).toEqual(new Set([ErrorCode.REQUEST_CANCELLED]));
    // Every cancel went out at once: none ever waited its turn (the gauge is set only when one does).
    expect(await gauge(metrics, 'gateway_agent_cancels_pending')).toBeUndefined();
    await expectStillStreaming(staying);
  }, 60_000);
});

describe('a stream agent that takes the call but never answers', () => {
  let agent: RunningAgent;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startReferenceAgent();
    ({ client } = agentClientFor(agent.target, {
      breaker: { volume_threshold: 3, error_threshold_percentage: 50, reset_timeout_ms: 60_000 },
    }));
  });

  afterAll(async () => {
    await agent.stop();
    client.onApplicationShutdown();
  });

  it('opens the breaker after enough first-chunk timeouts, like unary calls past their deadline', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(await streamFrom(client, { ref_latency_ms: '60000' }, { firstChunkMs: 100 }));
    }
    expect(outcomes).toEqual(['AGENT_TIMEOUT', 'AGENT_TIMEOUT', 'AGENT_TIMEOUT', 'CIRCUIT_OPEN']);
  });
});
