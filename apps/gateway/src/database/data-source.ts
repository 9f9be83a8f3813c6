import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/app-config';
import { AgentRecord } from '../agent/agent-record.entity';
import { MessageEntity } from '../session/message.entity';
import { SessionEntity } from '../session/session.entity';
import { lockDataDir } from './data-dir-lock';
import { pgliteDriver } from './pglite-pool';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [AgentRecord, SessionEntity, MessageEntity];

const PG_INT8_OID = 20;

/** Where the embedded database keeps its files inside DATA_DIR. */
export const embeddedDatabaseDir = (dataDir: string) => join(dataDir, 'pgdata');

/**
 * The one DataSource definition, for the app and for `npm run migration:*`.
 * With a URL: a pooled Postgres server with connect and statement timeouts.
 * Without: PGlite (Postgres compiled to WASM) in DATA_DIR, locked to this process.
 */
export async function createDataSource(config: DatabaseConfig): Promise<DataSource> {
  const common = {
    type: 'postgres',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
  } as const;
  if (config.url) {
    return new DataSource({
      ...common,
      url: config.url,
      applicationName: 'agent-gateway',
      poolSize: config.poolMax,
      connectTimeoutMS: config.connectTimeoutMs,
      extra: {
        statement_timeout: config.statementTimeoutMs,
        query_timeout: config.statementTimeoutMs + 1000,
        idle_in_transaction_session_timeout: 30_000,
      },
    } satisfies DataSourceOptions);
  }
  const unlock = await lockDataDir(config.dataDir);
  try {
    // int8 as text, as pg returns it, so one transformer serves both modes.
    const db = await PGlite.create({
      dataDir: embeddedDatabaseDir(config.dataDir),
      parsers: { [PG_INT8_OID]: (v) => v },
    });
    return new DataSource({ ...common, driver: pgliteDriver(db, unlock) } satisfies DataSourceOptions);
  } catch (error) {
    await unlock();
    throw error;
  }
}

/** Initializes the DataSource and brings the schema up to date, one replica at a time. */
export async function openDatabase(config: DatabaseConfig): Promise<DataSource> {
  const dataSource = await (await createDataSource(config)).initialize();
  try {
    if (!config.url) {
      await dataSource.runMigrations({ transaction: 'each' });
      return dataSource;
    }
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock(hashtext($1))', ['agent-gateway:migrations']);
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner
        .query('SELECT pg_advisory_unlock(hashtext($1))', ['agent-gateway:migrations'])
        .catch(() => undefined);
      await runner.release();
    }
    return dataSource;
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
}
