import { DEFAULT_CORPUS_DIR } from '../../apps/reference-agent/src/corpus';
import { ReferenceAgentServer, type CallLogEntry } from '../../apps/reference-agent/src/server';

export interface RunningAgent {
  server: ReferenceAgentServer;
  target: string;
  calls: CallLogEntry[];
  stop: () => Promise<void>;
}

/** A real reference agent gRPC server on a free port, in this process. */
export async function startReferenceAgent(
  behaviour: Partial<{ latencyMs: number; tokensPerSecond: number; failRate: number }> = {},
  corpusDir = DEFAULT_CORPUS_DIR,
): Promise<RunningAgent> {
  const calls: CallLogEntry[] = [];
  const server = new ReferenceAgentServer({
    host: '127.0.0.1',
    port: 0,
    corpusDir,
    behaviour: { latencyMs: 0, tokensPerSecond: 0, failRate: 0, allowOverrides: true, ...behaviour },
    log: (entry) => calls.push(entry),
  });
  const port = await server.start();
  return { server, target: `127.0.0.1:${port}`, calls, stop: () => server.stop(100) };
}
