import { runBuilt } from '../support/processes';

/** A row of the benchmark's table: its cells after the scenario's name. */
function row(table: string, startsWith: string): string[] {
  const line = table.split('\n').find((l) => l.startsWith(`| ${startsWith}`));
  if (!line) throw new Error(`no row "${startsWith}" in:\n${table}`);
  return line
    .split('|')
    .slice(2, -1)
    .map((cell) => cell.trim());
}

const numbers = (cell: string) => (cell.match(/\d[\d.]*/g) ?? []).map(Number);

/**
 * The benchmark's smoke run (`--quick`), so that `npm run bench` keeps working: every scenario runs
 * against the built gateway, agent and baselines, and reports a figure. Speed is not judged here
 * (bench/README.md records it); only that streams flow at the agent's pace at all.
 */
describe('benchmark smoke run', () => {
  it('runs every scenario and reports a figure for each', async () => {
    const { code, stdout, stderr } = await runBuilt('bench/run.js', ['--quick', '--active-streams', '20'], {});
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });

    for (const scenario of [
      'added latency p50, 1 in flight',
      'added latency p99, 8 in flight',
      'added latency p99, 400 req/s',
      'throughput, uncached',
      'throughput, cache hits',
      'throughput, uncached, with 10 % of agent calls failing',
      'the same, uncached: server CPU per request',
      'the same, cached: server CPU per request',
      'the same: allocated per request',
      "the framework's floor",
      'the same, bare NestJS route: server CPU per request',
      'breaker open, rejection through HTTP',
      "breaker open, the agent client's rejection",
      'idle SSE streams',
      'idle WebSocket streams',
    ]) {
      // The gateway's figure, and the baseline's where the row has one.
      const [gateway, baseline] = row(stdout, scenario);
      for (const cell of baseline ? [gateway, baseline] : [gateway]) {
        expect(cell).not.toContain('n/a');
        expect(numbers(cell).length).toBeGreaterThan(0);
        expect(numbers(cell).every((n) => Number.isFinite(n) && n > 0)).toBe(true);
      }
    }
    // What held the gateway's event loop during each latency run: three figures, none missing.
    for (const load of ['1 in flight', '8 in flight', '400 req/s']) {
      const [pauses] = row(stdout, `the gateway during its ${load} run`);
      expect(pauses).toMatch(/^\d+, \d+, \d+$/);
    }
    // Idle calls still waiting for their cancel once the idle clients left: a count (none past the burst here).
    for (const transport of ['SSE', 'WebSocket'])
      expect(row(stdout, `the idle ${transport} streams' clients leaving at once`)[0]).toMatch(/^\d+$/);
    // The abandoned streams' cancels are still waiting their turn when their cost is measured.
    const [abandoned] = row(stdout, '100 SSE streams at 50 tokens/s abandoned at once');
    expect(abandoned).not.toMatch(/n\/a|NaN/);
    expect(numbers(abandoned)[0]).toBeGreaterThan(50);
    for (const transport of ['SSE', 'WebSocket', 'SSE (minimal proxy)']) {
      const [gaps] = row(stdout, `20 active ${transport} streams`);
      const [p50] = numbers(gaps);
      // The agent sends a chunk every 20 ms; 20 streams keep that pace unless something is broken.
      expect(p50).toBeGreaterThan(10);
      expect(p50).toBeLessThan(100);
      // The server's CPU per chunk delivered: a figure, not n/a (no chunk counted) or Infinity.
      const [cpu] = row(stdout, `CPU during the ${transport} runs`);
      expect(cpu).toMatch(/\(\d+\.\d µs per chunk\)/);
    }
  }, 240_000);
});
