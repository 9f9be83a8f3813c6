import { createServer } from 'node:http';
import { behaviourDefaultsFromEnv } from './behaviour';
import { DEFAULT_CORPUS_DIR } from './corpus';
import { ReferenceAgentServer } from './server';

/** The reference agent as its own process: gRPC on AGENT_PORT, call counters on AGENT_STATS_PORT. */
async function main(): Promise<void> {
  const env = process.env;
  const log = (msg: string, extra: object = {}) =>
    process.stdout.write(`${JSON.stringify({ level: 'info', service: 'reference-agent', msg, ...extra })}\n`);
  const agent = new ReferenceAgentServer({
    host: env.AGENT_HOST ?? '127.0.0.1',
    port: Number(env.AGENT_PORT ?? 50051),
    corpusDir: env.AGENT_CORPUS_DIR ?? DEFAULT_CORPUS_DIR,
    behaviour: behaviourDefaultsFromEnv(env),
    log: env.AGENT_LOG_CALLS === 'false' ? undefined : (entry) => log('call', entry),
  });
  const port = await agent.start();

  const statsServer = env.AGENT_STATS_PORT
    ? createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(agent.stats()));
      }).listen(Number(env.AGENT_STATS_PORT), '127.0.0.1')
    : undefined;
  log('listening', { port, stats_port: env.AGENT_STATS_PORT ?? null });

  const shutdown = (signal: string) => {
    log('shutting down', { signal });
    statsServer?.close();
    void agent.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`reference agent failed to start: ${String(err)}\n`);
  process.exit(1);
});
