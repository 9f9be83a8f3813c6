// First: tracing must start before anything loads http or grpc.
import { tracing } from './observability/tracing-preload';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from '@nestjs/common';
import { AppConfig, ConfigError } from './config/app-config';
import { createApp } from './bootstrap';
import { DrainState } from './health/drain-state';

function loadConfig(): AppConfig {
  try {
    return AppConfig.fromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * SIGTERM/SIGINT: readiness fails at once; after SHUTDOWN_DELAY_MS the server stops taking
 * connections and in-flight work drains; after DRAIN_TIMEOUT_MS whatever is left is cut. Exit 0.
 */
function drainOnSignals(app: NestFastifyApplication, config: AppConfig): void {
  const logger = new Logger('Shutdown');
  const stop = async (signal: NodeJS.Signals) => {
    logger.log({ signal, delay_ms: config.shutdown.delayMs, drain_ms: config.shutdown.drainTimeoutMs }, 'draining');
    app.get(DrainState).begin();
    // Ctrl-C at a terminal has no load balancer to wait for.
    if (signal === 'SIGTERM') await sleep(config.shutdown.delayMs);
    const server = app.getHttpServer();
    const cut = setTimeout(() => {
      logger.warn('drain time is up: closing the remaining connections');
      server.closeAllConnections();
    }, config.shutdown.drainTimeoutMs);
    cut.unref();
    await app.close();
    await tracing?.shutdown();
    clearTimeout(cut);
    logger.log('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, (s: NodeJS.Signals) => {
      stop(s).catch((error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      });
    });
  }
}

/**
 * An uncaught exception or unhandled rejection (a bug) still stops the process, as Node does by
 * default: its state can no longer be trusted, and the orchestrator starts a new one. It is logged
 * first, as a structured line like every other, so the log says why the gateway stopped.
 */
function logCrashes(): void {
  const logger = new Logger('Process');
  process.on('uncaughtExceptionMonitor', (error, origin) => {
    logger.fatal({ err: error, origin }, 'stopping on an uncaught error');
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  logCrashes();
  drainOnSignals(app, config);
  await app.listen(config.http.port, config.http.host);
  const url = await app.getUrl();
  const hints = [`agent gateway listening on ${url}`];
  if (config.auth.key.kind === 'secret' && config.auth.key.isDevelopmentSecret) {
    hints.push('using the development JWT secret; get a token with: npm run token -- --sub alice');
  }
  process.stdout.write(`${hints.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
