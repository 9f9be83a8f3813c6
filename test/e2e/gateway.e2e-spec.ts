import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runBuilt, spawnBuilt, type Spawned } from '../support/processes';

/**
 * The product as a user runs it: the built `npm start` launcher brings up the reference agent
 * and the gateway as real processes; we talk HTTP to one, which talks gRPC to the other.
 */
describe('gateway and reference agent as real processes', () => {
  let stack: Spawned;
  let baseUrl: string;
  let env: Record<string, string>;
  let token: string;
  let dataDir: string;

  beforeAll(async () => {
    const [port, agentPort] = await Promise.all([freePort(), freePort()]);
    dataDir = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
    env = {
      PORT: String(port),
      AGENT_PORT: String(agentPort),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      AGENT_TOKENS_PER_SECOND: '0',
      AGENT_ALLOW_OVERRIDES: 'true', // one test makes the agent fail (ref_fail)
    };
    baseUrl = `http://127.0.0.1:${port}`;
    stack = spawnBuilt('scripts/start.js', env);
    await stack.waitFor(/agent gateway listening on http/);
    const result = await runBuilt('apps/gateway/src/auth/token.cli.js', ['--sub', 'alice'], env);
    expect(result.code).toBe(0);
    token = result.stdout.trim();
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints where it listens and how to get a token', () => {
    expect(stack.output()).toContain(`agent gateway listening on ${baseUrl}`);
    expect(stack.output()).toContain('npm run token -- --sub alice');
  });

  it('answers a real query with sources and usage from the reference agent', async () => {
    const res = await fetch(`${baseUrl}/api/v1/agent/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'e2e-req-1' },
      body: JSON.stringify({ agent_id: 'reference', query: 'How do I get a development token?' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('e2e-req-1');
    const body = (await res.json()) as {
      answer: string;
      sources: { title: string; score: number }[];
      usage: { total_tokens: number };
    };
    expect(body.answer).toContain('npm run token');
    expect(body.sources[0]).toMatchObject({ title: 'Authentication' });
    expect(body.sources[0].score).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBeGreaterThan(0);
  });

  it('serves a repeated question from the cache, as the README says of the reference agent', async () => {
    const ask = () =>
      fetch(`${baseUrl}/api/v1/agent/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'reference', query: 'What does the cache key cover?' }),
      });
    const [first, second] = [await ask(), await ask()];
    expect([first.headers.get('x-cache'), second.headers.get('x-cache')]).toEqual(['MISS', 'HIT']);
    expect(await second.text()).toBe(await first.text());
  });

  it('logs structured JSON with the request id on both sides, and never the token', async () => {
    await stack.waitFor(/"service":"reference-agent".*"request_id":"e2e-req-1"/);
    await stack.waitFor(/"request_id":"e2e-req-1".*"msg":"request completed"/);
    const lines = stack
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.service === 'reference-agent' && l.request_id === 'e2e-req-1')).toBe(true);
    expect(lines.some((l) => l.msg === 'request completed' && l.request_id === 'e2e-req-1')).toBe(true);
    expect(stack.output()).not.toContain(token);
    expect(stack.output()).not.toContain(token.split('.')[2]);
  });

  it("names the request on the gateway's log line about an agent failure", async () => {
    const res = await fetch(`${baseUrl}/api/v1/agent/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'e2e-fail-1' },
      body: JSON.stringify({ agent_id: 'reference', query: 'fail', options: { ref_fail: 'INTERNAL' } }),
    });
    expect(res.status).toBe(502);
    await stack.waitFor(/"request_id":"e2e-fail-1".*"msg":"agent call failed"/);
  });

  it('is ready when the agent answers its health check', async () => {
    const res = await fetch(`${baseUrl}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, 'agent:reference': { status: 'up' } },
    });
  });
});

describe('start-up', () => {
  it('starts with no configuration at all (the embedded defaults)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-defaults-'));
    const port = await freePort();
    const gateway = spawnBuilt('apps/gateway/src/main.js', { PORT: String(port), DATA_DIR: dataDir });
    try {
      await gateway.waitFor(/listening on/, 30_000);
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    } finally {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 40_000);

  it('logs why it stopped when a bug leaves a promise rejection unhandled, then exits non-zero', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-crash-'));
    // The bug, planted from outside: SIGUSR2 rejects a promise that nothing handles.
    const bug = join(dataDir, 'bug.js');
    writeFileSync(bug, "process.on('SIGUSR2', () => void Promise.reject(new Error('a bug, planted by the test')));\n");
    const port = await freePort();
    const gateway = spawnBuilt('apps/gateway/src/main.js', {
      PORT: String(port),
      DATA_DIR: dataDir,
      NODE_OPTIONS: `--require ${bug}`,
    });
    try {
      await gateway.waitFor(/listening on/, 30_000);
      gateway.child.kill('SIGUSR2');
      expect(await gateway.exited).toBe(1);
      const fatal = gateway
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string; origin?: string; err?: { message: string } })
        .find((line) => line.level === 60);
      expect(fatal).toMatchObject({
        msg: 'stopping on an uncaught error',
        origin: 'unhandledRejection',
        err: { message: 'a bug, planted by the test' },
      });
    } finally {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 40_000);

  it('refuses to start in production with the development secret, naming the variable', async () => {
    const result = await runBuilt('apps/gateway/src/main.js', [], { NODE_ENV: 'production', PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/JWT_SECRET/);
  });

  it('refuses a bad value, naming the variable', async () => {
    const result = await runBuilt('apps/gateway/src/main.js', [], { PORT: 'not-a-port' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PORT/);
  });
});
