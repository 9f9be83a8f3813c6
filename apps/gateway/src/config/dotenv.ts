import { existsSync } from 'node:fs';

/** Reads ./.env if present; variables already set in the environment win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
