import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/clients';
import { TEST_JWT_SECRET } from '../support/gateway';
import { freePort, runBuilt, spawnBuilt } from '../support/processes';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe('tracing', () => {
  it('continues the caller trace into the agent call and exports spans over OTLP when configured', async () => {
    const received: string[] = [];
    const collector: Server = createServer((req, res) => {
      received.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    const collectorPort = await freePort();
    await new Promise<void>((resolve) => collector.listen(collectorPort, '127.0.0.1', resolve));
    const [port, agentPort] = await Promise.all([freePort(), freePort()]);
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-'));
    const env = {
      PORT: String(port),
      AGENT_PORT: String(agentPort),
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const stack = spawnBuilt('scripts/start.js', env);
    try {
      await stack.waitFor(/listening on/, 30_000);
      const token = (await runBuilt('apps/gateway/src/auth/token.cli.js', ['--sub', 'alice'], env)).stdout.trim();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/agent/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent: TRACEPARENT },
        body: JSON.stringify({ agent_id: 'reference', query: 'what is a deadline?', options: { nocache: 1 } }),
      });
      expect(res.status).toBe(200);
      // The agent saw the same trace (its parent is the gateway's span, so only the trace id matches).
      await stack.waitFor(new RegExp(`"traceparent":"00-${TRACE_ID}-[0-9a-f]{16}-01"`));
      expect(await eventually(() => received.some((u) => u.endsWith('/v1/traces')), 10_000)).toBe(true);
    } finally {
      await stack.stop();
      collector.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 40_000);
});
