import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../apps/gateway/src/bootstrap';
import { AppConfig } from '../../apps/gateway/src/config/app-config';
import { signDevToken } from '../../apps/gateway/src/auth/dev-token';

export const TEST_JWT_SECRET = 'test-secret-0123456789-0123456789-abcdef';

export interface TestAgent {
  id: string;
  targets: string[];
  deadline_ms?: number;
  type?: 'rag' | 'tool' | 'chat';
  max_in_flight?: number;
  breaker?: Record<string, number>;
  retry?: Record<string, number>;
  cache?: { ttl_ms?: number; shareable?: boolean };
}

export interface TestGateway {
  app: NestFastifyApplication;
  /** Listens on a free port (for real HTTP, SSE and WebSocket clients) and returns the base URL. */
  listen: () => Promise<string>;
  config: AppConfig;
  tokenFor: (sub: string) => Promise<string>;
  close: () => Promise<void>;
}

/**
 * The whole gateway pipeline (guards, pipes, filters, Fastify, database) built from an environment,
 * not listening. Without DATABASE_URL it gets an embedded database in a fresh temporary folder.
 */
export async function createTestGateway(agents: TestAgent[], env: Record<string, string> = {}): Promise<TestGateway> {
  const ownDataDir = env.DATABASE_URL || env.DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const config = AppConfig.fromEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    AGENTS: JSON.stringify(agents),
    // Tests fire many requests quickly; the rate-limit tests set their own limits.
    RATE_LIMITS: JSON.stringify([{ name: 'test', ttl_ms: 1000, limit: 100_000 }]),
    ...(ownDataDir ? { DATA_DIR: ownDataDir } : {}),
    ...env,
  });
  const app = await createApp(config);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    config,
    tokenFor: (sub) => signDevToken(config, { sub, ttlSeconds: 300 }),
    // Listens once; later calls give the same address (so a test does not depend on which ran first).
    listen: async () => {
      if (!app.getHttpServer().listening) await app.listen(0, '127.0.0.1');
      return (await app.getUrl()).replace('[::1]', '127.0.0.1');
    },
    close: async () => {
      await app.close();
      if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
    },
  };
}
