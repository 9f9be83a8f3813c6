import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runCommand } from '../common/run-command';
import { AppConfig } from '../config/app-config';
import { loadDotEnv } from '../config/dotenv';
import { createDataSource, embeddedDatabaseDir } from '../database/data-source';
import { SessionEntity } from './session.entity';
import { SessionRepository } from './session.repository';
import { eraseUser } from './user-erasure';

/**
 * npm run erase-user -- --sub alice [--dry-run]: deletes every session of a JWT subject with its
 * messages, on the database the gateway's environment names (DATABASE_URL, or DATA_DIR).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sub: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
  });
  if (!values.sub) throw new Error('--sub is required: the JWT subject whose sessions and messages to delete');
  loadDotEnv();
  const config = AppConfig.fromEnv(process.env).database;
  if (!config.url && !existsSync(embeddedDatabaseDir(config.dataDir))) {
    throw new Error(`no embedded database in DATA_DIR ${config.dataDir}, and no DATABASE_URL`);
  }
  const dataSource = await (await createDataSource(config)).initialize();
  try {
    // Against a schema this version does not know, a DELETE could miss what it should delete.
    // Read-only: TypeORM's check creates the migrations table on a database that has none.
    const [{ known }] = await dataSource.query<[{ known: string | null }]>(`SELECT to_regclass('migrations') AS known`);
    if (!known || (await dataSource.showMigrations())) {
      throw new Error('the database schema is behind this version: start the gateway or run `npm run migration:run`');
    }
    const dryRun = values['dry-run'];
    const sessions = new SessionRepository(dataSource.getRepository(SessionEntity));
    const count = await eraseUser(sessions, values.sub, { dryRun });
    const what = `${plural(count.sessions, 'session')} and ${plural(count.messages, 'message')} of ${JSON.stringify(values.sub)}`;
    process.stdout.write(dryRun ? `would delete ${what} (dry run)\n` : `deleted ${what}\n`);
  } finally {
    await dataSource.destroy();
  }
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

runCommand(main);
