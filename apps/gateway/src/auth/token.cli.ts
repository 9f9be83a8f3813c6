import { parseArgs } from 'node:util';
import { runCommand } from '../common/run-command';
import { loadDotEnv } from '../config/dotenv';
import { AppConfig } from '../config/app-config';
import { signDevToken } from './dev-token';

/** npm run token -- --sub alice [--ttl 3600]: prints a bearer token for the configured secret. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sub: { type: 'string', default: 'dev-user' }, ttl: { type: 'string', default: '3600' } },
  });
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new Error('--ttl must be a positive number of seconds');
  loadDotEnv();
  const token = await signDevToken(AppConfig.fromEnv(process.env), { sub: values.sub, ttlSeconds });
  process.stdout.write(`${token}\n`);
}

runCommand(main);
