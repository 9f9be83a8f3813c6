import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { AppConfig, type DatabaseConfig } from '../config/app-config';
import { AgentRecord } from '../agent/agent-record.entity';
import { freshDatabase } from '../../../../test/support/postgres';
import { runNpmScript } from '../../../../test/support/npm-script';
import { openDatabase } from './data-source';

function databaseConfig(env: Record<string, string>): DatabaseConfig {
  return AppConfig.fromEnv({ NODE_ENV: 'test', ...env }).database;
}

const agent = (id: string) => ({ id, name: id, type: 'rag' as const, config: {}, state: 'active' as const });

describe.each([
  ['the embedded database (PGlite)', () => Promise.resolve({ DATA_DIR: mkdtempSync(join(tmpdir(), 'gateway-db-')) })],
  ['the Postgres server', async () => ({ DATABASE_URL: await freshDatabase('agent_gateway_test_datasource') })],
])('the DataSource on %s', (_name, makeEnv) => {
  let env: Record<string, string>;
  let db: DataSource;

  beforeAll(async () => {
    env = await makeEnv();
    db = await openDatabase(databaseConfig(env));
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    if (env?.DATA_DIR) rmSync(env.DATA_DIR, { recursive: true, force: true });
  });

  it('runs the migrations: the tables exist and nothing is pending', async () => {
    expect(await db.showMigrations()).toBe(false);
    const tables = await db.query<{ table_name: string }[]>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(['agents', 'messages', 'migrations', 'sessions']);
  });

  it('has the schema the entities describe: no change left that a migration does not make', async () => {
    const pending = (await db.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query);
    // TypeORM always sees a jsonb column's default as changed (typeorm/typeorm#10831): not a difference.
    const jsonbDefault = /^ALTER TABLE "\w+" ALTER COLUMN "\w+" SET DEFAULT '\{\}'::jsonb$/;
    expect(pending.filter((query) => !jsonbDefault.test(query))).toEqual([]);
  });

  it('keeps concurrent transactions apart: a rollback never takes or leaks the other one', async () => {
    const repo = db.getRepository(AgentRecord);
    await Promise.all([
      db
        .transaction(async (tx) => {
          await tx.insert(AgentRecord, agent('rolled-back'));
          await sleep(30);
          throw new Error('roll back');
        })
        .catch(() => undefined),
      db.transaction(async (tx) => {
        await sleep(5);
        await tx.insert(AgentRecord, agent('committed'));
      }),
    ]);
    expect(await repo.findOneBy({ id: 'rolled-back' })).toBeNull();
    expect(await repo.findOneBy({ id: 'committed' })).not.toBeNull();
  });

  it('reports affected rows for updates', async () => {
    const result = await db.getRepository(AgentRecord).update({ id: 'committed' }, { name: 'renamed' });
    expect(result.affected).toBe(1);
  });
});

describe('the embedded database folder', () => {
  it('cannot be opened by two gateways at once, and is free again after close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-lock-'));
    const config = databaseConfig({ DATA_DIR: dir });
    const first = await openDatabase(config);
    await expect(openDatabase(config)).rejects.toThrow(/in use by another gateway process/);
    await first.destroy();
    const again = await openDatabase(config);
    await again.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('is created with its missing parents', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gateway-nested-'));
    const db = await openDatabase(databaseConfig({ DATA_DIR: join(root, 'a', 'b') }));
    expect(await db.showMigrations()).toBe(false);
    await db.destroy();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);
});

describe('the Postgres server pool', () => {
  it('stops a statement that runs past DB_STATEMENT_TIMEOUT_MS', async () => {
    const url = await freshDatabase('agent_gateway_test_timeouts');
    const db = await openDatabase(databaseConfig({ DATABASE_URL: url, DB_STATEMENT_TIMEOUT_MS: '200' }));
    try {
      await expect(db.query('SELECT pg_sleep(2)')).rejects.toThrow(/statement timeout/);
    } finally {
      await db.destroy();
    }
  });

  it('gives up connecting after DB_CONNECT_TIMEOUT_MS when the server does not answer', async () => {
    // A server that accepts connections and never says a word: the pool must not wait forever.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const started = Date.now();
    try {
      await expect(
        openDatabase(
          databaseConfig({ DATABASE_URL: `postgres://x@127.0.0.1:${port}/x`, DB_CONNECT_TIMEOUT_MS: '300' }),
        ),
      ).rejects.toThrow(/timeout/i);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});

describe('the migration commands (npm run migration:*)', () => {
  const run = (name: string, databaseUrl: string) => runNpmScript(name, { DATABASE_URL: databaseUrl });

  it('run every migration, revert the last and run it again, on a Postgres server', async () => {
    const url = await freshDatabase('agent_gateway_test_migration_cli');
    expect(await run('migration:run', url)).toMatch(/SessionsUpdatedIndex\d+ has been executed successfully/);
    expect(await run('migration:revert', url)).toMatch(/SessionsUpdatedIndex\d+ has been reverted successfully/);
    expect(await run('migration:run', url)).toMatch(/SessionsUpdatedIndex\d+ has been executed successfully/);
    expect(await run('migration:show', url)).not.toMatch(/\[ \]/);
  }, 60_000);
});
