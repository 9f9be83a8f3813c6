import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestGateway, TEST_JWT_SECRET, type TestGateway } from '../support/gateway';
import { freshDatabase } from '../support/postgres';
import { freePort, runBuilt, spawnBuilt, type Spawned } from '../support/processes';
import { startReferenceAgent, type RunningAgent } from '../support/reference-agent';
import { TcpProxy } from '../support/tcp-proxy';

const fastBreaker = {
  volume_threshold: 3,
  error_threshold_percentage: 50,
  reset_timeout_ms: 700,
  rolling_window_ms: 10_000,
};

function spawnAgent(port: number): Spawned {
  return spawnBuilt('apps/reference-agent/src/main.js', {
    AGENT_PORT: String(port),
    AGENT_TOKENS_PER_SECOND: '0',
    AGENT_ALLOW_OVERRIDES: 'true',
  });
}

describe('when agents fail', () => {
  let gw: TestGateway;
  let token: string;
  let agentProcess: Spawned;
  let agentPort: number;
  let inProcessAgent: RunningAgent;

  beforeAll(async () => {
    agentPort = await freePort();
    agentProcess = spawnAgent(agentPort);
    await agentProcess.waitFor(/listening/);
    inProcessAgent = await startReferenceAgent();
    gw = await createTestGateway([
      { id: 'killable', targets: [`127.0.0.1:${agentPort}`], deadline_ms: 2000, breaker: fastBreaker },
      { id: 'slow', targets: [inProcessAgent.target], deadline_ms: 300 },
      {
        id: 'flaky',
        targets: [inProcessAgent.target],
        deadline_ms: 5000,
        breaker: { ...fastBreaker, error_threshold_percentage: 95, volume_threshold: 1000 },
        retry: {
          max_attempts: 5,
          base_backoff_ms: 1,
          max_backoff_ms: 5,
          // A floor large enough that the budget never binds here: early failures in a burst would
          // otherwise meet a budget computed from the few calls seen so far.
          budget_percent: 100,
          min_retries_per_second: 50,
        },
      },
      {
        id: 'narrow',
        targets: [inProcessAgent.target],
        max_in_flight: 2,
        breaker: { ...fastBreaker, volume_threshold: 1 },
      },
    ]);
    token = await gw.tokenFor('alice');
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await agentProcess?.stop();
    await inProcessAgent?.stop();
  });

  const ask = (agentId: string, options: Record<string, string | number> = {}) =>
    gw.app.inject({
      method: 'POST',
      url: '/api/v1/agent/query',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ agent_id: agentId, query: 'what is a deadline?', options }),
    });

  it('fails fast when the agent process dies, opens the breaker, and closes it when the agent is back', async () => {
    expect((await ask('killable')).statusCode).toBe(200);

    agentProcess.child.kill('SIGKILL');
    await agentProcess.exited;

    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const res = await ask('killable');
      expect(res.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(1500);
      codes.push(res.json().code);
    }
    // The first failures may still reach the network; once the breaker opens, calls stop there.
    expect(codes.every((c) => c === 'AGENT_UNAVAILABLE' || c === 'CIRCUIT_OPEN')).toBe(true);
    expect(codes.at(-1)).toBe('CIRCUIT_OPEN');

    // Open: refused without touching the network, with a hint of when to come back.
    const started = performance.now();
    const refused = await ask('killable');
    expect(performance.now() - started).toBeLessThan(50);
    expect(refused.json()).toMatchObject({ status: 503, code: 'CIRCUIT_OPEN' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    agentProcess = spawnAgent(agentPort);
    await agentProcess.waitFor(/listening/);
    let recovered = false;
    for (let i = 0; i < 40 && !recovered; i++) {
      await sleep(250);
      recovered = (await ask('killable')).statusCode === 200;
    }
    expect(recovered).toBe(true);
    expect((await ask('killable')).statusCode).toBe(200);
  }, 30_000);

  it('answers 504 at the deadline when the agent stalls, and the agent sees the call cancelled', async () => {
    const started = Date.now();
    const res = await ask('slow', { ref_latency_ms: 5000 });
    const elapsed = Date.now() - started;
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({ code: 'AGENT_TIMEOUT' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    await sleep(100);
    expect(inProcessAgent.server.stats().active).toBe(0);
  });

  it('retries an agent that fails half the time, within the budget, so callers rarely see it', async () => {
    const before = inProcessAgent.server.stats().total;
    const results = await Promise.all(Array.from({ length: 40 }, () => ask('flaky', { ref_fail_rate: 0.5 })));
    const ok = results.filter((r) => r.statusCode === 200).length;
    const agentCalls = inProcessAgent.server.stats().total - before;
    expect(ok).toBeGreaterThanOrEqual(34); // 0.5^5 per call fails after all attempts
    expect(agentCalls).toBeGreaterThan(40); // retries happened
    expect(agentCalls).toBeLessThanOrEqual(40 * 5);
  });

  it('does not retry a stream of failures past the retry budget', async () => {
    const before = inProcessAgent.server.stats().total;
    // "slow" has the default budget: 20% of calls plus 5 per second over 10 s.
    const results = await Promise.all(Array.from({ length: 30 }, () => ask('slow', { ref_fail: 'unavailable' })));
    expect(results.every((r) => r.statusCode === 503)).toBe(true);
    const agentCalls = inProcessAgent.server.stats().total - before;
    expect(agentCalls).toBeLessThanOrEqual(30 + Math.ceil(0.2 * 30) + 50);
    expect(agentCalls).toBeLessThan(30 * 3);
  });

  it('refuses calls past the bulkhead at once, without opening the breaker', async () => {
    const slowCalls = [ask('narrow', { ref_latency_ms: 400 }), ask('narrow', { ref_latency_ms: 400 })];
    await sleep(50);
    const started = Date.now();
    const refused = await Promise.all([ask('narrow'), ask('narrow'), ask('narrow')]);
    expect(Date.now() - started).toBeLessThan(200);
    for (const res of refused) expect(res.json()).toMatchObject({ status: 503, code: 'AGENT_OVERLOADED' });
    expect((await Promise.all(slowCalls)).map((r) => r.statusCode)).toEqual([200, 200]);
    expect((await ask('narrow')).statusCode).toBe(200);
  });
});

describe('when the database goes away', () => {
  let proxy: TcpProxy;
  let gw: TestGateway;
  let agent: RunningAgent;

  beforeAll(async () => {
    const url = new URL(await freshDatabase('agent_gateway_test_outage'));
    proxy = new TcpProxy('127.0.0.1', Number(url.port || 5432));
    url.port = String(await proxy.start());
    agent = await startReferenceAgent();
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target] }], {
      DATABASE_URL: url.toString(),
      DB_CONNECT_TIMEOUT_MS: '500',
    });
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await proxy?.stop();
    await agent?.stop();
  });

  const get = (url: string) => gw.app.inject({ method: 'GET', url });

  it('reports not ready while Postgres is down, stays live, and recovers when it is back', async () => {
    expect((await get('/health/ready')).statusCode).toBe(200);

    await proxy.stop();
    const started = Date.now();
    const down = await get('/health/ready');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(down.statusCode).toBe(503);
    // Down, without the driver's error text (it names the database's address): the probe is public.
    expect(down.json().error).toEqual({ database: { status: 'down' } });
    expect((await get('/health/live')).statusCode).toBe(200);
    // Every replica shares the database: the one probe a load balancer acts on keeps this one in.
    expect((await get('/health/serving')).statusCode).toBe(200);

    const token = await gw.tokenFor('alice');
    const session = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/session',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ agent_id: 'reference' }),
    });
    expect(session.statusCode).toBe(503);
    expect(session.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });

    await proxy.start();
    let ready = false;
    for (let i = 0; i < 20 && !ready; i++) {
      ready = (await get('/health/ready')).statusCode === 200;
      if (!ready) await sleep(250);
    }
    expect(ready).toBe(true);
  }, 30_000);
});

describe('on SIGTERM', () => {
  it('fails readiness at once, finishes in-flight calls, then exits 0 within the drain time', async () => {
    const [port, agentPort] = await Promise.all([freePort(), freePort()]);
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-drain-'));
    const env = {
      PORT: String(port),
      AGENT_PORT: String(agentPort),
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      SHUTDOWN_DELAY_MS: '500',
      DRAIN_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'warn',
    };
    const agent = spawnAgent(agentPort);
    const gateway = spawnBuilt('apps/gateway/src/main.js', {
      ...env,
      AGENTS: JSON.stringify([{ id: 'reference', targets: [`127.0.0.1:${agentPort}`] }]),
    });
    try {
      await Promise.all([agent.waitFor(/listening/), gateway.waitFor(/listening on/)]);
      const token = (await runBuilt('apps/gateway/src/auth/token.cli.js', ['--sub', 'alice'], env)).stdout.trim();
      const base = `http://127.0.0.1:${port}`;

      const inFlight = fetch(`${base}/api/v1/agent/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'reference', query: 'deadline', options: { ref_latency_ms: 1200 } }),
      });
      await sleep(200);
      const signalled = Date.now();
      gateway.child.kill('SIGTERM');
      await sleep(100);

      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${base}/health/serving`)).status).toBe(503);
      expect((await fetch(`${base}/health/live`)).status).toBe(200);

      expect((await inFlight).status).toBe(200);
      expect(await gateway.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(500 + 3000 + 1000);
      await expect(fetch(`${base}/health/live`)).rejects.toThrow();
    } finally {
      await gateway.stop();
      await agent.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
