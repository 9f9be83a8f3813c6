/**
 * npm run bench: the gateway's cost, measured against baselines in the same run on the same machine.
 * Scenarios are interleaved over several rounds; medians and ratios are reported (see bench/README.md).
 *   --quick        short runs (a smoke test, seconds)
 *   --rounds N     interleaved rounds (default 3)
 *   --soak-min M   add a mixed-load soak of M minutes, sampling the gateway's memory
 *   --streams-only skip the latency and throughput rounds
 *   --active-streams N  add N active SSE streams, then N WebSocket streams, at 50 tokens/s
 *   --database-url URL, --redis-url URL  run the gateway on a real Postgres / Redis
 *   --heap-profile FILE  with --soak-min: where the memory held at the end was allocated after warm-up
 *   --gateway-node-args "FLAGS"  extra Node flags for the gateway (a CPU profile: "--cpu-prof --cpu-prof-dir=DIR")
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent as HttpAgent } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { Logger } from '@nestjs/common';
import { useFastAsyncResourceBind } from '../apps/gateway/src/common/async-resource-bind';
import { connectAgent, queryAgent, type AgentStub } from './agent-stub';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    'soak-min': { type: 'string', default: '0' },
    'streams-only': { type: 'boolean', default: false },
    // The gateway on a real Postgres / Redis instead of its embedded defaults.
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    'active-streams': { type: 'string', default: '0' },
    // With --soak-min: a sampling heap profile from the end of warm-up to the end of the soak.
    'heap-profile': { type: 'string' },
    // Extra Node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/profiles" for a flame graph.
    'gateway-node-args': { type: 'string' },
  },
});
const QUICK = args.quick;
const ROUNDS = args['streams-only'] ? 0 : QUICK ? 1 : Number(args.rounds);
const DURATION_S = QUICK ? 2 : 8;
const LATENCY_REQUESTS = QUICK ? 300 : 3000;
/**
 * The loads the added latency is measured at: closed loops of 1 and 8 calls in flight, and an open
 * loop at 400 calls a second, about a quarter of what the gateway answers uncached on the 2-core
 * machine beside its agent and load generator (8 in flight already saturates it there).
 */
const LATENCY_LOADS = [
  { key: 'c1', label: '1 in flight', inFlight: 1 },
  { key: 'c8', label: '8 in flight', inFlight: 8 },
  { key: 'r400', label: '400 req/s', perSecond: 400 },
] as const;
/** Abandoned streams: how many, how long their cancels are watched waiting, and how fast those go out. */
const ABANDONED_STREAMS = QUICK ? 100 : 500;
const ABANDONED_WAIT_S = QUICK ? 5 : 45;
const ABANDONED_CANCELS_PER_SECOND = 5;
/** The reference answer to QUERY is 123 words: repeated, it lasts a few seconds past the measurement at 50/s. */
const ABANDONED_ANSWER_REPEAT = Math.ceil(((ABANDONED_WAIT_S + 8) * 50) / 123);
const DIST = join(__dirname, '..');
const SECRET = 'bench-secret-0123456789-0123456789-0123';
const QUERY = 'what happens when the deadline passes?';

function spawnNode(script: string, env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, join(DIST, script)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.resume();
  return child;
}

/** Polls `url` until `ready` holds for its status and body (default: a 2xx). */
async function waitForHttp(url: string, ready = (response: Response) => Promise.resolve(response.ok)): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await fetch(url).then(ready, () => false)) return;
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Starts `total` calls at a steady `perSecond`, whether or not earlier ones have answered (an open
 * loop, as independent clients behave); returns per-call latencies in ms, sorted.
 */
async function latenciesAtRate(
  perSecond: number,
  total: number,
  call: (i: number) => Promise<void>,
): Promise<number[]> {
  const out: number[] = [];
  const calls: Promise<void>[] = [];
  const started = performance.now();
  while (calls.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * perSecond) / 1000) + 1);
    while (calls.length < due) {
      const t = performance.now();
      calls.push(call(calls.length).then(() => void out.push(performance.now() - t)));
    }
    await sleep(1);
  }
  await Promise.all(calls);
  return out.sort((a, b) => a - b);
}

/** Sends `total` calls with `concurrency` in flight; returns per-call latencies in ms, sorted. */
async function latencies(concurrency: number, total: number, call: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await call(i);
        out.push(performance.now() - t);
      }
    }),
  );
  return out.sort((a, b) => a - b);
}

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 64 });
function post(
  port: number,
  path: string,
  body: string,
  headers: Record<string, string>,
  expected = 200,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: keepAlive,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status !== expected) process.stderr.write(`${path}: ${status} ${text.slice(0, 300)}\n`);
          resolve(status);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Throughput {
  perSecond: number;
  requests: number;
  /** The share of requests answered with an error (only a run told to expect some has any). */
  errorShare: number;
  /** The server's CPU time per request (user + system, all its threads). */
  serverUsPerRequest: number;
  /** How busy the load generator was meanwhile, in % of one core. */
  clientShare: number;
}

/**
 * autocannon against the server process `pid`. Besides requests per second, the server's CPU per
 * request: on a shared two-core machine it is what the goal is about (throughput per core), and the
 * load generator's share shows when it, not the server, set the pace.
 */
async function cannon(
  url: string,
  pid: number,
  opts: Partial<autocannon.Options>,
  expect: { httpErrors?: boolean } = {},
): Promise<Throughput> {
  const { result, cpuSeconds, shares } = await withCpuShares({ server: pid, client: process.pid }, () =>
    autocannon({ url, connections: 32, duration: DURATION_S, ...opts }),
  );
  if ((result.non2xx > 0 && !expect.httpErrors) || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    perSecond: result.requests.average,
    requests: result.requests.total,
    errorShare: result.non2xx / Math.max(1, result.requests.total),
    serverUsPerRequest: (cpuSeconds.server * 1e6) / result.requests.total,
    clientShare: shares.client,
  };
}

/** In process: the agent client refusing calls to an agent whose breaker is open; each in ms. */
async function breakerRejections(calls: number): Promise<number[]> {
  Logger.overrideLogger(false); // the breaker's state change is logged; not here
  const { AppConfig } = await import('../apps/gateway/src/config/app-config');
  const { MetricsService } = await import('../apps/gateway/src/observability/metrics.service');
  const { AgentClient } = await import('../apps/gateway/src/agent/agent-client');
  const config = AppConfig.fromEnv({
    JWT_SECRET: SECRET,
    AGENTS: JSON.stringify([
      {
        id: 'down',
        targets: ['127.0.0.1:1'],
        breaker: { volume_threshold: 1, reset_timeout_ms: 600_000 },
        retry: { max_attempts: 1 },
      },
    ]),
  });
  const client = new AgentClient(config, new MetricsService());
  const context = { userId: 'bench', requestId: 'bench' };
  const ask = () =>
    client.query(
      'down',
      {
        session_id: '',
        agent_id: 'down',
        query: 'x',
        options: {},
        history: [],
        request_id: 'bench',
        context_json: '',
      },
      context,
    );
  await ask().catch(() => undefined); // fails to connect: the breaker opens
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    const code = await ask().then(
      () => 'OK',
      (e: { code?: string }) => e.code,
    );
    times.push(performance.now() - started);
    if (code !== 'CIRCUIT_OPEN') throw new Error(`expected CIRCUIT_OPEN, got ${code}`);
  }
  client.onApplicationShutdown();
  return times.sort((a, b) => a - b);
}

/** Least-squares slope of y over x. */
function slope(points: number[][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}

/** A short conversation: a session, `turns` queries in it, its history read back, then closed. */
async function converse(port: number, headers: Record<string, string>, turns: number): Promise<void> {
  const base = `http://127.0.0.1:${port}/api/v1/session`;
  const created = await fetch(base, { method: 'POST', headers, body: JSON.stringify({ agent_id: 'reference' }) });
  if (created.status !== 201) throw new Error(`session refused: ${created.status}`);
  const { id } = (await created.json()) as { id: string };
  for (let i = 0; i < turns; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/agent/query`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ agent_id: 'reference', session_id: id, query: `${QUERY} (${i})` }),
    });
    if (res.status !== 200) throw new Error(`query in session failed: ${res.status}`);
  }
  if ((await fetch(`${base}/${id}/messages`, { headers })).status !== 200) throw new Error('history failed');
  if ((await fetch(`${base}/${id}`, { method: 'DELETE', headers })).status !== 200) throw new Error('close failed');
}

/** A DevTools protocol session with the gateway (run with --inspect on loopback for the benchmark). */
class Inspector {
  private id = 0;
  private constructor(private readonly socket: WebSocket) {}

  static async connect(inspectPort: number): Promise<Inspector> {
    const [target] = (await fetch(`http://127.0.0.1:${inspectPort}/json/list`).then((r) => r.json())) as {
      webSocketDebuggerUrl: string;
    }[];
    const socket = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 2 ** 30 });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new Inspector(socket);
  }

  call<T = { result?: { value?: string } }>(method: string, params: object = {}): Promise<T> {
    return new Promise((resolve) => {
      const mine = ++this.id;
      const onMessage = (raw: Buffer) => {
        const message = JSON.parse(raw.toString('utf8')) as { id?: number; result: T };
        if (message.id !== mine) return;
        this.socket.off('message', onMessage);
        resolve(message.result);
      };
      this.socket.on('message', onMessage);
      this.socket.send(JSON.stringify({ id: mine, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

interface AllocationNode {
  selfSize: number;
  children: AllocationNode[];
}

/**
 * What the server behind `inspectPort` allocated per request of `load`, in KB: every object, those
 * already collected too (what its garbage collector got through), from V8's sampling heap profiler.
 */
async function allocatedKbPerRequest(inspectPort: number, load: () => Promise<Throughput>): Promise<number> {
  const inspector = await Inspector.connect(inspectPort);
  await inspector.call('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const { requests } = await load();
  const { profile } = await inspector.call<{ profile: { head: AllocationNode } }>('HeapProfiler.stopSampling');
  inspector.close();
  const total = (node: AllocationNode): number => node.selfSize + node.children.reduce((sum, c) => sum + total(c), 0);
  return total(profile.head) / requests / 1024;
}

/** The gateway's memory as V8 sees it after a full collection (nothing in the app is changed for it). */
async function memoryAfterGc(inspectPort: number): Promise<{ rss: number; heapUsed: number; external: number }> {
  const inspector = await Inspector.connect(inspectPort);
  await inspector.call('HeapProfiler.collectGarbage');
  const reply = await inspector.call('Runtime.evaluate', {
    expression: 'JSON.stringify(process.memoryUsage())',
    returnByValue: true,
  });
  inspector.close();
  return JSON.parse(reply.result!.value!) as { rss: number; heapUsed: number; external: number };
}

/**
 * One stream the benchmark holds open: `accepted` settles with true once the server has taken it, or
 * with why it was not (a status, a close code, an error event); `close` leaves at once.
 */
interface HeldStream {
  accepted: Promise<true | string>;
  close: () => void;
}

/** The body of a query the agent answers 10 minutes later: the stream stays open and idle. */
const IDLE_QUERY = { agent_id: 'reference', query: QUERY, options: { ref_latency_ms: '600000' } };

/** An idle SSE stream, taken once the server answers 200. */
function idleSse(url: string, headers: Record<string, string>): HeldStream {
  const c = new AbortController();
  const accepted = fetch(url, {
    method: 'POST',
    signal: c.signal,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(IDLE_QUERY),
  }).then(
    (r) => {
      void r.body
        ?.getReader()
        .read()
        .catch(() => undefined);
      return r.status === 200 || `HTTP ${r.status}`;
    },
    (e: Error & { cause?: { code?: string } }) => `request failed: ${e.cause?.code ?? e.message}`,
  );
  return { accepted, close: () => c.abort() };
}

/** An idle WebSocket stream: one query on its own socket, taken once the server sends its first event. */
function idleWs(url: string, headers: Record<string, string>): HeldStream {
  const socket = new WebSocket(url, { headers });
  const accepted = new Promise<true | string>((resolve) => {
    socket.once('open', () => socket.send(JSON.stringify({ event: 'query', data: IDLE_QUERY })));
    socket.once('message', (raw: Buffer) => {
      const { event, data } = JSON.parse(raw.toString('utf8')) as { event: string; data?: { code?: string } };
      resolve(event === 'start' || `event ${event} ${data?.code ?? ''}`.trim());
    });
    socket.once('unexpected-response', (request, response) => {
      resolve(`HTTP ${response.statusCode}`);
      request.destroy();
    });
    socket.once('error', (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
    socket.once('close', (code: number) => resolve(`closed ${code}`));
  });
  socket.on('error', () => undefined); // a socket ended by `terminate` may still report one
  return { accepted, close: () => socket.terminate() };
}

/**
 * Memory per idle stream: `n` streams opened with `open`, on an answer the agent has not started (10
 * minutes away), the server's memory after a full collection before and 5 s after they were all taken,
 * divided by the streams it took. `close` lets them all go at once.
 */
async function idleStreamMemory(
  open: () => HeldStream,
  n: number,
  inspectPort: number,
): Promise<{ open: number; heapKbEach: number; rssKbEach: number; close: () => void }> {
  await sleep(500);
  const before = await memoryAfterGc(inspectPort);
  const held: HeldStream[] = [];
  let taken = 0;
  const refused = new Map<string, number>(); // why, for the streams not taken
  for (let i = 0; i < n; i++) {
    const stream = open();
    held.push(stream);
    void stream.accepted.then((outcome) => {
      if (outcome === true) taken++;
      else refused.set(outcome, (refused.get(outcome) ?? 0) + 1);
    });
    if (i % 100 === 99) await sleep(50);
  }
  // Every stream taken (or refused) before measuring: one still in its handshake holds part of its cost.
  await Promise.race([Promise.all(held.map((stream) => stream.accepted)), sleep(120_000)]);
  await sleep(5000);
  const after = await memoryAfterGc(inspectPort);
  if (taken < n) {
    const unsettled = n - taken - [...refused.values()].reduce((sum, count) => sum + count, 0);
    if (unsettled > 0) refused.set('no answer', unsettled);
    const why = [...refused].map(([reason, count]) => `${count} × ${reason}`).join(', ');
    process.stderr.write(`note: ${taken} of ${n} streams were open when measured; not taken: ${why}\n`);
  }
  return {
    open: taken,
    heapKbEach: (after.heapUsed + after.external - before.heapUsed - before.external) / taken / 1024,
    rssKbEach: (after.rss - before.rss) / taken / 1024,
    close: () => held.forEach((stream) => stream.close()),
  };
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/**
 * Where the memory still held at the end of the soak was allocated after its warm-up: V8's sampling
 * heap profiler, started after warm-up and read after a full collection. Writes the profile (open it
 * in Chrome DevTools, Memory tab) and prints the allocation sites holding the most.
 */
async function heapProfile(inspectPort: number): Promise<{ stop: (file: string) => Promise<void> }> {
  const inspector = await Inspector.connect(inspectPort);
  await inspector.call('HeapProfiler.enable');
  await inspector.call('HeapProfiler.startSampling', { samplingInterval: 16_384 });
  return {
    stop: async (file) => {
      await inspector.call('HeapProfiler.collectGarbage');
      const { profile } = await inspector.call<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
      inspector.close();
      writeFileSync(file, JSON.stringify(profile));
      const sites: { size: number; where: string }[] = [];
      const walk = (node: SamplingNode, stack: string[]) => {
        const frame = node.callFrame;
        const here = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
        const path = [here, ...stack].slice(0, 4);
        if (node.selfSize > 0) sites.push({ size: node.selfSize, where: path.join(' < ') });
        node.children.forEach((child) => walk(child, path));
      };
      walk(profile.head, []);
      sites.sort((a, b) => b.size - a.size);
      const total = sites.reduce((sum, site) => sum + site.size, 0);
      process.stderr.write(
        `heap allocated after warm-up and still held: ${(total / 2 ** 20).toFixed(1)} MB (profile in ${file}); largest sites:\n` +
          sites
            .slice(0, 15)
            .map((site) => `  ${(site.size / 1024).toFixed(0)} KB  ${site.where}`)
            .join('\n') +
          '\n',
      );
    },
  };
}

const ACTIVE_STREAM_SECONDS = 10;
const TRANSPORT_NAMES = { grpc: 'gRPC', sse: 'SSE', ws: 'WebSocket', proxy: 'SSE (minimal proxy)' } as const;
/** Which process serves each transport's active streams (gRPC's come straight from the agent). */
const SERVER_OF = { grpc: undefined, sse: 'gateway', ws: 'gateway', proxy: 'proxy' } as const;
/** Chunks a run of active streams received, and the gap before each (ms). */
interface ActiveRun {
  gaps: number[];
  events: number;
}
/** Linux's clock tick for /proc/<pid>/stat times (USER_HZ, 100 on every mainstream kernel). */
const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
function cpuSecondsOf(pid: number): number {
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/**
 * Runs `scenario` and reports the CPU time each process used meanwhile, in seconds and in % of one
 * core: shows whether the gateway or the machine (load generator and agent on the same two cores)
 * limits a figure.
 */
async function withCpuShares<T>(
  pids: Record<string, number>,
  scenario: () => Promise<T>,
): Promise<{ result: T; cpuSeconds: Record<string, number>; shares: Record<string, number> }> {
  const start = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)]));
  const result = await scenario();
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid) - before[name]]),
  );
  const shares = Object.fromEntries(Object.entries(cpuSeconds).map(([name, used]) => [name, (100 * used) / seconds]));
  return { result, cpuSeconds, shares };
}

/** The baseline: N streams straight from the agent over gRPC; the gap between consecutive chunks of each. */
async function activeGrpcGaps(client: AgentStub, body: object, n: number): Promise<ActiveRun> {
  const gaps: number[] = [];
  let events = 0;
  const until = Date.now() + ACTIVE_STREAM_SECONDS * 1000;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const call = client.StreamQuery(body, new grpc.Metadata(), { deadline: until + 5000 });
          let last = 0;
          call.on('data', () => {
            events++;
            const now = performance.now();
            if (last > 0) gaps.push(now - last);
            last = now;
            if (Date.now() > until) call.cancel();
          });
          call.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? resolve() : reject(e)));
          call.on('end', resolve);
        }),
    ),
  );
  return { gaps, events };
}

/** N SSE streams at once (node:http, lighter than fetch); the gap between consecutive chunks of each, in ms. */
async function activeSseGaps(
  port: number,
  auth: object,
  body: object,
  n: number,
  path = '/api/v1/agent/stream',
): Promise<ActiveRun> {
  const gaps: number[] = [];
  let events = 0;
  const until = Date.now() + ACTIVE_STREAM_SECONDS * 1000;
  const streams = new HttpAgent({ keepAlive: false, maxSockets: Infinity });
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port,
              path,
              method: 'POST',
              agent: streams,
              headers: { ...auth, 'content-type': 'application/json' },
            },
            (res) => {
              if (res.statusCode !== 200) return reject(new Error(`stream refused: ${res.statusCode}`));
              let last = 0;
              res.setEncoding('utf8');
              res.on('data', (text: string) => {
                const now = performance.now();
                // Several events can arrive in one read: each gets an equal share of the gap.
                const chunks = text.split('event: chunk').length - 1;
                events += chunks;
                if (chunks > 0 && last > 0) gaps.push((now - last) / chunks);
                if (chunks > 0) last = now;
                if (Date.now() > until) res.destroy();
              });
              res.on('close', resolve);
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify(body));
        }),
    ),
  );
  streams.destroy();
  return { gaps, events };
}

/** Opens an SSE stream and resolves at its first chunk (the stream stays open until `signal` aborts it). */
async function firstChunk(port: number, auth: object, body: object, signal: AbortSignal): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/agent/stream`, {
    method: 'POST',
    signal,
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`stream refused: ${response.status}`);
  const reader = response.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  for (let seen = ''; !seen.includes('event: chunk');) {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended before its first chunk');
    seen += decoder.decode(value, { stream: true });
  }
  // Keep reading (and dropping) until the abort, as a client that is still there would.
  void (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done);
  })();
}

/** N WebSocket connections with one run each; the gap between consecutive chunks of each run, in ms. */
async function activeWsGaps(port: number, auth: object, body: object, n: number): Promise<ActiveRun> {
  const gaps: number[] = [];
  let events = 0;
  const until = Date.now() + ACTIVE_STREAM_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream`, { headers: { ...auth } });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      let last = 0;
      await new Promise<void>((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(finish, until - Date.now());
        socket.on('message', (raw: Buffer) => {
          const { event } = JSON.parse(raw.toString('utf8')) as { event: string };
          if (event === 'chunk') {
            events++;
            const now = performance.now();
            if (last > 0) gaps.push(now - last);
            last = now;
          } else if (event === 'done') finish();
          else if (event === 'error') reject(new Error(`stream failed: ${raw.toString('utf8')}`));
        });
        socket.send(JSON.stringify({ event: 'query', data: body }));
      });
      socket.close();
    }),
  );
  return { gaps, events };
}

async function main(): Promise<void> {
  // The direct gRPC client is a baseline too: it must not pay for Node 20's slow bind either.
  useFastAsyncResourceBind();
  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const [agentPort, gwPort, proxyPort, constPort, nestPort, inspectPort, baselinesInspectPort] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  const agent = spawnNode('apps/reference-agent/src/main.js', {
    AGENT_PORT: String(agentPort),
    AGENT_TOKENS_PER_SECOND: '0',
    AGENT_LOG_CALLS: 'false',
    AGENT_ALLOW_OVERRIDES: 'true',
  });
  const agents = [
    { id: 'reference', targets: [`127.0.0.1:${agentPort}`], cache: { ttl_ms: 600_000 }, max_in_flight: 20_000 },
    // The same agent for the abandoned streams: a connection and a cancel pacer of its own.
    {
      id: 'long',
      targets: [`127.0.0.1:${agentPort}`],
      max_in_flight: 20_000,
      cancel_pacing: { burst: 1, per_second: ABANDONED_CANCELS_PER_SECOND },
    },
    {
      id: 'down',
      targets: ['127.0.0.1:1'],
      breaker: { volume_threshold: 1, reset_timeout_ms: 600_000 },
      retry: { max_attempts: 1 },
    },
  ];
  const gateway = spawnNode(
    'apps/gateway/src/main.js',
    {
      PORT: String(gwPort),
      NODE_ENV: 'production',
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      ...(args['database-url'] ? { DATABASE_URL: args['database-url'] } : {}),
      ...(args['redis-url'] ? { REDIS_URL: args['redis-url'], REDIS_KEY_PREFIX: `bench-${Date.now()}:` } : {}),
      AGENTS: JSON.stringify(agents),
      RATE_LIMITS: JSON.stringify([{ name: 'bench', ttl_ms: 1000, limit: 1_000_000 }]),
      MAX_STREAMS_PER_USER: '10000',
      MAX_WEBSOCKETS_PER_USER: '10000',
      STREAM_RESUME_WINDOW_MS: '1000',
      // The idle streams wait for a first chunk that never comes; on a slow machine opening and measuring
      // 10,000 of them can take longer than the default 30 s, and their timeouts would open the breaker.
      STREAM_FIRST_CHUNK_TIMEOUT_MS: '600000',
      MAX_BODY_BYTES: '1048576',
    },
    [`--inspect=127.0.0.1:${inspectPort}`, ...(args['gateway-node-args']?.split(' ').filter(Boolean) ?? [])],
  );
  const gatewayMetrics = () => fetch(`http://127.0.0.1:${gwPort}/metrics`).then((r) => r.text());
  /** A gauge of one agent from the gateway's /metrics (NaN when absent). */
  const agentGauge = async (name: string, agentId: string) => {
    const text = await gatewayMetrics();
    return Number(new RegExp(`^${name}\\{agent="${agentId}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1]);
  };
  const pending = async (agentId: string) => (await agentGauge('gateway_agent_cancels_pending', agentId)) || 0;
  /** Polls every `everyMs` until no cancel of `agentId` waits; false if some still wait after `withinMs`. */
  const cancelsDrained = async (agentId: string, withinMs: number, everyMs: number) => {
    for (let waited = 0; waited < withinMs; waited += everyMs) {
      if ((await pending(agentId)) === 0) return true;
      await sleep(everyMs);
    }
    return false;
  };
  /**
   * The gateway's garbage collection so far (seconds in all, and collections over 10 ms) and its
   * longest event-loop delay since the previous read (prom-client resets that on every scrape).
   */
  const gatewayPauses = async () => {
    const text = await gatewayMetrics();
    const total = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((sum, [, value]) => sum + Number(value), 0);
    return {
      gcSeconds: total(/^gateway_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm),
      gcOver10ms:
        total(/^gateway_nodejs_gc_duration_seconds_count\{[^}]*\} (\S+)$/gm) -
        total(/^gateway_nodejs_gc_duration_seconds_bucket\{le="0\.01",[^}]*\} (\S+)$/gm),
      loopDelayMaxSeconds: total(/^gateway_nodejs_eventloop_lag_max_seconds (\S+)$/gm),
    };
  };
  const results: Record<string, number[]> = {};
  const note = (k: string, v: number) => (results[k] ??= []).push(v);

  // The direct gRPC client (the latency and active-stream baselines) runs here, beside the load
  // generator, like every other client; the proxy and constant route run in their own process (below).
  const direct = connectAgent(`127.0.0.1:${agentPort}`);
  const queryDirect = (options: Record<string, string>) => queryAgent(direct, QUERY, options);
  let baselines: ChildProcess | undefined;

  try {
    // The database up, not just the process: the embedded one initializes after the server listens,
    // and its start-up (seconds of CPU, hundreds of MB) must not land inside a measurement. (Readiness
    // as a whole stays 503 here: the "down" agent is down on purpose.)
    await waitForHttp(`http://127.0.0.1:${gwPort}/health/ready`, async (r) => {
      const body = (await r.json()) as { details?: { database?: { status?: string } } };
      return body.details?.database?.status === 'up';
    });
    const { AppConfig } = await import('../apps/gateway/src/config/app-config');
    const { signDevToken } = await import('../apps/gateway/src/auth/dev-token');
    const token = await signDevToken(AppConfig.fromEnv({ JWT_SECRET: SECRET }), { sub: 'bench', ttlSeconds: 3600 });
    const auth = { authorization: `Bearer ${token}` };
    const cachedBody = JSON.stringify({ agent_id: 'reference', query: QUERY });
    const cachedAnswer = await fetch(`http://127.0.0.1:${gwPort}/api/v1/agent/query`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: cachedBody,
    }).then((r) => r.text());
    baselines = spawnNode(
      'bench/baselines.js',
      {
        AGENT_ADDRESS: `127.0.0.1:${agentPort}`,
        PROXY_PORT: String(proxyPort),
        CONSTANT_PORT: String(constPort),
        NEST_PORT: String(nestPort),
        CONSTANT_BODY: cachedAnswer,
      },
      [`--inspect=127.0.0.1:${baselinesInspectPort}`],
    );
    await waitForHttp(`http://127.0.0.1:${constPort}/constant`);
    const baselinesPid = baselines.pid!;
    await queryDirect({});

    // Open the breaker of the "down" agent once.
    await post(gwPort, '/api/v1/agent/query', JSON.stringify({ agent_id: 'down', query: 'x' }), auth, 503);

    // 4. Streams, abandoned: active streams whose clients all leave at once while the agent goes on
    // answering. Past the burst their cancels wait their turn, and the agent's chunks keep coming
    // meanwhile: what a waiting call costs the gateway, in memory and CPU. First, on a quiet gateway; the
    // answers end soon after the measurement, which lets the waiting calls go before the next scenario.
    const beforeAbandon = await memoryAfterGc(inspectPort);
    const leaving = Array.from({ length: ABANDONED_STREAMS }, () => new AbortController());
    const longAnswer = { ref_tokens_per_second: 50, ref_repeat: ABANDONED_ANSWER_REPEAT };
    await Promise.all(
      leaving.map((c) => firstChunk(gwPort, auth, { agent_id: 'long', query: QUERY, options: longAnswer }, c.signal)),
    );
    leaving.forEach((c) => c.abort());
    const { shares } = await withCpuShares({ gateway: gateway.pid! }, () => sleep(ABANDONED_WAIT_S * 1000));
    const afterAbandon = await memoryAfterGc(inspectPort);
    const waiting = await pending('long');
    note('abandoned_waiting', waiting);
    note(
      'abandoned_heap_kb_each',
      (afterAbandon.heapUsed + afterAbandon.external - beforeAbandon.heapUsed - beforeAbandon.external) /
        waiting /
        1024,
    );
    note('abandoned_rss_kb_each', (afterAbandon.rss - beforeAbandon.rss) / waiting / 1024);
    note('abandoned_cpu_gateway', shares.gateway);
    await cancelsDrained('long', 60_000, 100);

    // 5. Streams, idle: memory per open stream, over SSE and then over WebSocket, on a gateway that has
    // served nothing else yet; after each, the same on the minimal proxy (the floor: what the connection
    // and the gRPC call cost in Node).
    const streams = QUICK ? 500 : 10_000;
    const rssOf = () => Number(readFileSync(`/proc/${gateway.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]) * 1024;
    const idleStreams = async (
      kind: 'sse' | 'ws',
      throughGateway: () => HeldStream,
      throughProxy: () => HeldStream,
    ) => {
      const idle = await idleStreamMemory(throughGateway, streams, inspectPort);
      note(`idle_${kind}_streams`, idle.open);
      note(`idle_${kind}_kb_each`, idle.rssKbEach);
      note(`idle_${kind}_heap_kb_each`, idle.heapKbEach);
      idle.close();
      await sleep(3000); // the idle streams' runs end once their resume window has passed
      // Their agent calls were cancelled all at once: the pacing must have kept the connection (and so
      // the breaker) of the agent the next scenarios use.
      const breaker = await agentGauge('gateway_circuit_breaker_state', 'reference');
      if (breaker !== 0) throw new Error(`the reference agent's breaker is ${breaker} after the idle streams left`);
      note(`idle_${kind}_cancels_waiting`, await pending('reference'));
      const floor = await idleStreamMemory(throughProxy, streams, baselinesInspectPort);
      note(`idle_${kind}_proxy_streams`, floor.open);
      note(`idle_${kind}_proxy_kb_each`, floor.rssKbEach);
      note(`idle_${kind}_proxy_heap_kb_each`, floor.heapKbEach);
      // The proxy cancels its calls all at once (it has no pacing): the agent may close the connection
      // its streams use (not the one of its queries), which it opens again for the next scenarios.
      floor.close();
      await sleep(3000);
      // The gateway's idle calls past the burst wait for their paced cancels (minutes for 10,000). The
      // later scenarios are measured once they are gone, not in the aftermath of a mass disconnect: with
      // them still waiting, the open loop's tail at 400 req/s was up to +92 ms at p99 (bench/README.md).
      if (!(await cancelsDrained('reference', 20 * 60_000, 500)))
        throw new Error("the idle streams' cancels did not drain in 20 minutes");
    };
    await idleStreams(
      'sse',
      () => idleSse(`http://127.0.0.1:${gwPort}/api/v1/agent/stream`, auth),
      () => idleSse(`http://127.0.0.1:${proxyPort}/stream`, {}),
    );
    await idleStreams(
      'ws',
      () => idleWs(`ws://127.0.0.1:${gwPort}/api/v1/stream`, auth),
      () => idleWs(`ws://127.0.0.1:${proxyPort}/stream`, {}),
    );

    let unique = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round}/${ROUNDS}\n`);
      // A query no earlier one asked (a unique option), so that the gateway's cache lookup misses.
      const body = (options: Record<string, string> = {}) =>
        JSON.stringify({ agent_id: 'reference', query: QUERY, options: { ...options, n: String(unique++) } });
      const through = (port: number, path: string, headers: Record<string, string>) => async () => {
        const status = await post(port, path, body(), headers);
        if (status !== 200) throw new Error(`${path} answered ${status}`);
      };
      // 1. Added latency on a cache miss, vs a direct gRPC call.
      for (const load of LATENCY_LOADS) {
        const run = (call: (i: number) => Promise<void>) =>
          'inFlight' in load
            ? latencies(load.inFlight, LATENCY_REQUESTS, call)
            : latenciesAtRate(load.perSecond, LATENCY_REQUESTS, call);
        const d = await run(async (i) => void (await queryDirect({ n: String(i) })));
        const pausesBefore = await gatewayPauses();
        const g = await run(through(gwPort, '/api/v1/agent/query', auth));
        // What held the gateway's event loop during its run: a latency tail's usual suspects.
        const pauses = await gatewayPauses();
        note(`gateway_gc_ms_${load.key}`, (pauses.gcSeconds - pausesBefore.gcSeconds) * 1000);
        note(`gateway_gc_over_10ms_${load.key}`, pauses.gcOver10ms - pausesBefore.gcOver10ms);
        note(`gateway_loop_delay_max_${load.key}`, pauses.loopDelayMaxSeconds * 1000);
        // The floor of any HTTP hop in front of the agent: the minimal proxy, measured the same way.
        const p = await run(through(proxyPort, '/', {}));
        note(`direct_p50_${load.key}`, percentile(d, 50));
        note(`direct_p99_${load.key}`, percentile(d, 99));
        note(`gateway_p50_${load.key}`, percentile(g, 50));
        note(`gateway_p99_${load.key}`, percentile(g, 99));
        note(`added_p50_${load.key}`, percentile(g, 50) - percentile(d, 50));
        note(`added_p99_${load.key}`, percentile(g, 99) - percentile(d, 99));
        note(`proxy_added_p50_${load.key}`, percentile(p, 50) - percentile(d, 50));
        note(`proxy_added_p99_${load.key}`, percentile(p, 99) - percentile(d, 99));
      }
      // 2. Throughput without cache vs the minimal proxy; 3. on cache hits vs a constant route of the
      // same size. Each pair runs back to back, in alternating order, and its ratio is noted per round:
      // the machine's load drifts between rounds, and a ratio within one pair is what it affects least.
      const pair = async (kind: string, baseline: () => Promise<Throughput>, gateway: () => Promise<Throughput>) => {
        let b: Throughput, g: Throughput;
        if (round % 2 === 1) {
          b = await baseline();
          g = await gateway();
        } else {
          g = await gateway();
          b = await baseline();
        }
        for (const [side, t] of Object.entries({ baseline: b, gateway: g })) {
          note(`${kind}_${side}_rps`, t.perSecond);
          note(`${kind}_${side}_us_per_request`, t.serverUsPerRequest);
          note(`${kind}_${side}_client_cpu`, t.clientShare);
        }
        note(`${kind}_gateway_error_share`, g.errorShare);
        note(`${kind}_ratio`, g.perSecond / b.perSecond);
        note(`${kind}_cpu_ratio`, b.serverUsPerRequest / g.serverUsPerRequest);
      };
      const uncachedGateway = (options: Record<string, string>, expect?: { httpErrors: boolean }) => () =>
        cannon(
          `http://127.0.0.1:${gwPort}/api/v1/agent/query`,
          gateway.pid!,
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json', 'cache-control': 'no-cache' },
            body: body(options),
          },
          expect,
        );
      const uncachedProxy = () =>
        cannon(`http://127.0.0.1:${proxyPort}/`, baselinesPid, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body(),
        });
      await pair('uncached', uncachedProxy, uncachedGateway({}));
      // The same gateway while its agent fails 10 % of calls (UNAVAILABLE, retried within the budget):
      // failures must not cost more as traffic grows (they did: the breaker sorted its whole window).
      await pair('flaky', uncachedGateway({}), uncachedGateway({ ref_fail_rate: '0.1' }, { httpErrors: true }));
      // Every side of the cache-hit pairs gets the gateway's request (a POST with its token and JSON
      // body): a GET without a body costs Fastify about 30 % less CPU, which no route that reads one can save.
      const cachedRequest = (url: string, pid: number) =>
        cannon(url, pid, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: cachedBody,
        });
      const constantRoute = () => cachedRequest(`http://127.0.0.1:${constPort}/constant`, baselinesPid);
      const cachedGateway = () => cachedRequest(`http://127.0.0.1:${gwPort}/api/v1/agent/query`, gateway.pid!);
      await pair('cached', constantRoute, cachedGateway);
      await pair('nest', constantRoute, () => cachedRequest(`http://127.0.0.1:${nestPort}/constant`, baselinesPid));
      // 5. Rejection latency with the breaker open: through HTTP, one at a time and in turn with a constant
      // route on the same HTTP client (a busy moment of the machine lands on both alike), and the agent
      // client's own decision, in process.
      const open: number[] = [];
      const constantLatency: number[] = [];
      const timed = async (into: number[], send: () => Promise<number>, expected: number) => {
        const started = performance.now();
        const status = await send();
        into.push(performance.now() - started);
        if (status !== expected) throw new Error(`expected ${expected}, got ${status}`);
      };
      const refusal = JSON.stringify({ agent_id: 'down', query: 'x' });
      for (let i = 0; i < LATENCY_REQUESTS; i++) {
        await timed(open, () => post(gwPort, '/api/v1/agent/query', refusal, auth, 503), 503);
        await timed(constantLatency, () => post(constPort, '/constant', '{}', {}), 200);
      }
      open.sort((a, b) => a - b);
      constantLatency.sort((a, b) => a - b);
      note('breaker_open_p50', percentile(open, 50));
      note('breaker_open_p99', percentile(open, 99));
      note('constant_p99', percentile(constantLatency, 99));
      const decision = await breakerRejections(QUICK ? 1000 : 20_000);
      note('breaker_decision_p50_us', percentile(decision, 50) * 1000);
      note('breaker_decision_p99_us', percentile(decision, 99) * 1000);
      // 7. What a request allocates on each side of the uncached and cache-hit pairs: the garbage
      // collector's work. Once, after the timed runs of the last round, since sampling slows them.
      if (round === ROUNDS) {
        note('alloc_uncached_gateway_kb', await allocatedKbPerRequest(inspectPort, uncachedGateway({})));
        note('alloc_uncached_baseline_kb', await allocatedKbPerRequest(baselinesInspectPort, uncachedProxy));
        note('alloc_cached_gateway_kb', await allocatedKbPerRequest(inspectPort, cachedGateway));
        note('alloc_cached_baseline_kb', await allocatedKbPerRequest(baselinesInspectPort, constantRoute));
      }
    }

    // 6. Streams, active: N at 50 tokens/s straight from the agent, through the gateway over SSE and over
    // WebSocket, and through the minimal proxy over SSE (the floor); the gap between chunks as the client
    // sees it (the agent sends one every 20 ms), and the server's CPU per chunk delivered.
    const active = Number(args['active-streams']);
    if (active > 0) {
      const body = { agent_id: 'reference', query: QUERY, options: { ref_tokens_per_second: 50 } };
      const scenarios = [
        ['grpc', () => activeGrpcGaps(direct, body, active)],
        ['sse', () => activeSseGaps(gwPort, auth, body, active)],
        ['ws', () => activeWsGaps(gwPort, auth, body, active)],
        ['proxy', () => activeSseGaps(proxyPort, {}, body, active, '/stream')],
      ] as const;
      // Three repetitions in alternating order, so that none always runs first or last; medians reported.
      const pids = { gateway: gateway.pid!, proxy: baselinesPid, agent: agent.pid!, client: process.pid };
      for (const [transport, gapsOf] of [...scenarios, ...[...scenarios].reverse(), ...scenarios]) {
        const { result, shares, cpuSeconds } = await withCpuShares(pids, gapsOf);
        const gaps = result.gaps.sort((a, b) => a - b);
        note(`active_${transport}_gap_p50`, percentile(gaps, 50));
        note(`active_${transport}_gap_p99`, percentile(gaps, 99));
        for (const [name, share] of Object.entries(shares)) note(`active_${transport}_cpu_${name}`, share);
        const server = SERVER_OF[transport];
        if (server) note(`active_${transport}_us_per_event`, (1e6 * cpuSeconds[server]) / result.events);
        await sleep(2000);
      }
      note('active_streams', active);
    }

    if (Number(args['soak-min']) > 0) {
      // Mixed load in cycles: uncached and cached queries, SSE and WebSocket streams, a conversation in a
      // session. Memory is sampled after each cycle; the trend is fitted after the first fifth (warm-up).
      const until = Date.now() + Number(args['soak-min']) * 60_000;
      const samples: { minute: number; rssMb: number; heapMb: number }[] = [];
      const soakStart = Date.now();
      const json = { ...auth, 'content-type': 'application/json' };
      const streamBody = { agent_id: 'reference', query: QUERY, options: { ref_tokens_per_second: 50 } };
      const warmedUpAt = soakStart + (until - soakStart) / 5;
      let profiling: Awaited<ReturnType<typeof heapProfile>> | undefined;
      while (Date.now() < until) {
        if (args['heap-profile'] && !profiling && Date.now() >= warmedUpAt) profiling = await heapProfile(inspectPort);
        await Promise.all([
          cannon(`http://127.0.0.1:${gwPort}/api/v1/agent/query`, gateway.pid!, {
            method: 'POST',
            headers: { ...json, 'cache-control': 'no-cache' },
            body: JSON.stringify({ agent_id: 'reference', query: QUERY, options: { n: String(unique++) } }),
            connections: 4,
            duration: 5,
          }),
          cannon(`http://127.0.0.1:${gwPort}/api/v1/agent/query`, gateway.pid!, {
            method: 'POST',
            headers: json,
            body: cachedBody,
            connections: 4,
            duration: 5,
          }),
          activeSseGaps(gwPort, auth, streamBody, 20),
          activeWsGaps(gwPort, auth, streamBody, 20),
          converse(gwPort, json, 5),
        ]);
        samples.push({
          minute: (Date.now() - soakStart) / 60_000,
          rssMb: rssOf() / 2 ** 20,
          heapMb: await memoryAfterGc(inspectPort).then((m) => (m.heapUsed + m.external) / 2 ** 20),
        });
      }
      await profiling?.stop(args['heap-profile']!);
      const settled = samples.slice(Math.floor(samples.length / 5));
      note('soak_minutes', Number(args['soak-min']));
      note('soak_rss_first_mb', settled[0].rssMb);
      note('soak_rss_last_mb', settled[settled.length - 1].rssMb);
      note('soak_rss_max_mb', Math.max(...settled.map((x) => x.rssMb)));
      note('soak_rss_slope_mb_per_10min', 10 * slope(settled.map((x) => [x.minute, x.rssMb])));
      note('soak_heap_slope_mb_per_10min', 10 * slope(settled.map((x) => [x.minute, x.heapMb])));
      process.stderr.write(
        `soak samples (minute, RSS MB, heap+external MB):\n${samples.map((x) => `${x.minute.toFixed(1)} ${x.rssMb.toFixed(0)} ${x.heapMb.toFixed(0)}`).join('\n')}\n`,
      );
    }
  } finally {
    const children = [gateway, agent, ...(baselines ? [baselines] : [])];
    // A child that already died (its error is on stderr) must not hang the ending.
    const exited = (c: ChildProcess) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => c.once('exit', resolve));
    const stopped = Promise.all(children.map(exited));
    gateway.kill('SIGINT');
    agent.kill('SIGTERM');
    baselines?.kill('SIGTERM');
    await stopped;
    direct.close();
    keepAlive.destroy();
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  }

  const m = (k: string) => median(results[k] ?? [NaN]);
  const fixed = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const signed = (x: number, d = 3) => `${x >= 0 ? '+' : ''}${fixed(x, d)}`;
  /** The median of the rounds' ratios, then each round's. */
  const ratios = (kind: string) =>
    `×${fixed(m(`${kind}_ratio`), 2)} (rounds: ${(results[`${kind}_ratio`] ?? []).map((r) => `×${fixed(r, 2)}`).join(', ')})`;
  const cpuRows = (kinds: string[]) =>
    kinds.map(
      (kind) =>
        `| the same, ${kind === 'nest' ? 'bare NestJS route' : kind}: server CPU per request (µs), load generator busy (% of one core) | ${fixed(m(`${kind}_gateway_us_per_request`), 0)}, ${fixed(m(`${kind}_gateway_client_cpu`), 0)} % | ${fixed(m(`${kind}_baseline_us_per_request`), 0)}, ${fixed(m(`${kind}_baseline_client_cpu`), 0)} % | ×${fixed(m(`${kind}_cpu_ratio`), 2)} per core | |`,
    );
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    `date: ${new Date().toISOString()}; rounds: ${ROUNDS}; ${QUICK ? 'quick' : `${DURATION_S} s per throughput run`}`,
    '',
    '| scenario | gateway | baseline | result | goal |',
    '|---|---|---|---|---|',
    // The latency, throughput and breaker rounds (none with --streams-only).
    ...(ROUNDS > 0
      ? [
          ...LATENCY_LOADS.flatMap(({ key, label }) => [
            `| added latency p50, ${label} (ms) | ${fixed(m(`gateway_p50_${key}`))} | ${fixed(m(`direct_p50_${key}`))} (direct gRPC) | ${signed(m(`added_p50_${key}`))} | ≤ +0.3 |`,
            `| added latency p99, ${label} (ms) | ${fixed(m(`gateway_p99_${key}`))} | ${fixed(m(`direct_p99_${key}`))} (direct gRPC) | ${signed(m(`added_p99_${key}`))} | ≤ +1 |`,
            `| the same through the minimal Node proxy, added p50 / p99, ${label} (ms) | | | ${signed(m(`proxy_added_p50_${key}`))} / ${signed(m(`proxy_added_p99_${key}`))} | |`,
            `| the gateway during its ${label} run: GC in all (ms), collections over 10 ms, longest event-loop delay (ms) | ${fixed(m(`gateway_gc_ms_${key}`), 0)}, ${m(`gateway_gc_over_10ms_${key}`)}, ${fixed(m(`gateway_loop_delay_max_${key}`), 0)} | | | |`,
          ]),
          `| throughput, uncached (req/s) | ${fixed(m('uncached_gateway_rps'), 0)} | ${fixed(m('uncached_baseline_rps'), 0)} (minimal Node proxy) | ${ratios('uncached')} | ≥ ×0.8 |`,
          `| throughput, cache hits (req/s) | ${fixed(m('cached_gateway_rps'), 0)} | ${fixed(m('cached_baseline_rps'), 0)} (constant Fastify route) | ${ratios('cached')} | ≥ ×0.9 |`,
          `| throughput, uncached, with 10 % of agent calls failing (req/s) | ${fixed(m('flaky_gateway_rps'), 0)} | ${fixed(m('flaky_baseline_rps'), 0)} (the agent healthy) | ${ratios('flaky')}; ${fixed(100 * m('flaky_gateway_error_share'), 1)} % answered with an error | |`,
          ...cpuRows(['uncached', 'cached']),
          `| the same: allocated per request, uncached / cache hit (KB, collected objects included) | ${fixed(m('alloc_uncached_gateway_kb'), 1)} / ${fixed(m('alloc_cached_gateway_kb'), 1)} | ${fixed(m('alloc_uncached_baseline_kb'), 1)} (minimal proxy) / ${fixed(m('alloc_cached_baseline_kb'), 1)} (constant route) | ×${fixed(m('alloc_uncached_gateway_kb') / m('alloc_uncached_baseline_kb'), 2)} / ×${fixed(m('alloc_cached_gateway_kb') / m('alloc_cached_baseline_kb'), 2)} | |`,
          `| the framework's floor: the constant route as a bare NestJS controller (req/s) | ${fixed(m('nest_gateway_rps'), 0)} | ${fixed(m('nest_baseline_rps'), 0)} (constant Fastify route) | ${ratios('nest')} | |`,
          ...cpuRows(['nest']),
          `| breaker open, rejection through HTTP p50 / p99 (ms) | ${fixed(m('breaker_open_p50'))} / ${fixed(m('breaker_open_p99'))} | ${fixed(m('constant_p99'))} (constant route p99) | ${signed(m('breaker_open_p99') - m('constant_p99'))} at p99 | ≤ 0.5 |`,
          `| breaker open, the agent client's rejection p50 / p99 (µs, in process) | ${fixed(m('breaker_decision_p50_us'), 1)} / ${fixed(m('breaker_decision_p99_us'), 1)} | | | ≤ 500 |`,
        ]
      : []),
    ...(['sse', 'ws'] as const).flatMap((kind) => {
      const name = kind === 'sse' ? 'SSE' : 'WebSocket';
      return [
        `| idle ${name} streams: memory each (KB, after GC), ${m(`idle_${kind}_streams`)} streams | heap+external ${fixed(m(`idle_${kind}_heap_kb_each`), 1)}, RSS ${fixed(m(`idle_${kind}_kb_each`), 1)} | heap+external ${fixed(m(`idle_${kind}_proxy_heap_kb_each`), 1)}, RSS ${fixed(m(`idle_${kind}_proxy_kb_each`), 1)} (minimal Node proxy, ${m(`idle_${kind}_proxy_streams`)} streams) | ×${fixed(m(`idle_${kind}_heap_kb_each`) / m(`idle_${kind}_proxy_heap_kb_each`), 2)} the proxy's heap+external | ≤ 16 |`,
        `| the idle ${name} streams' clients leaving at once: agent calls waiting for their cancel 3 s later (the default cancel_pacing) | ${m(`idle_${kind}_cancels_waiting`)} | | | |`,
      ];
    }),
    `| ${ABANDONED_STREAMS} SSE streams at 50 tokens/s abandoned at once, cancels paced (1, then ${ABANDONED_CANCELS_PER_SECOND}/s): ${ABANDONED_WAIT_S} s later, calls still waiting; memory each (KB, after GC); gateway CPU meanwhile | ${m('abandoned_waiting')} waiting; heap+external ${fixed(m('abandoned_heap_kb_each'), 1)}, RSS ${fixed(m('abandoned_rss_kb_each'), 1)}; ${fixed(m('abandoned_cpu_gateway'), 0)} % of a core | | | |`,
    ...(results.active_streams
      ? [
          `| ${m('active_streams')} active gRPC streams straight from the agent (the baseline): gap p50 / p99 (ms) | | ${fixed(m('active_grpc_gap_p50'), 1)} / ${fixed(m('active_grpc_gap_p99'), 1)} | | |`,
          ...(['grpc', 'sse', 'ws', 'proxy'] as const).map((t) => {
            const server = SERVER_OF[t];
            const serverCpu = server
              ? `${server} ${fixed(m(`active_${t}_cpu_${server}`), 0)} (${fixed(m(`active_${t}_us_per_event`), 1)} µs per chunk), `
              : '';
            return `| CPU during the ${TRANSPORT_NAMES[t]} runs, % of one core | ${serverCpu}agent ${fixed(m(`active_${t}_cpu_agent`), 0)}, load generator ${fixed(m(`active_${t}_cpu_client`), 0)} | | | |`;
          }),
          ...(['sse', 'ws', 'proxy'] as const).map(
            (t) =>
              `| ${m('active_streams')} active ${TRANSPORT_NAMES[t]} streams at 50 tokens/s: gap between chunks p50 / p99 (ms; the agent's is 20) | ${fixed(m(`active_${t}_gap_p50`), 1)} / ${fixed(m(`active_${t}_gap_p99`), 1)} | ${fixed(m('active_grpc_gap_p99'), 1)} (gRPC p99) | ${signed(m(`active_${t}_gap_p99`) - m('active_grpc_gap_p99'), 1)} at p99 | ${t === 'proxy' ? '' : '≤ +10'} |`,
          ),
        ]
      : []),
    ...(results.soak_minutes
      ? [
          `| soak ${m('soak_minutes')} min, after warm-up: RSS first / last / max (MB) | ${fixed(m('soak_rss_first_mb'), 0)} / ${fixed(m('soak_rss_last_mb'), 0)} / ${fixed(m('soak_rss_max_mb'), 0)} | | trend: RSS ${signed(m('soak_rss_slope_mb_per_10min'), 1)}, heap after GC ${signed(m('soak_heap_slope_mb_per_10min'), 1)} MB per 10 min | flat |`,
        ]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
