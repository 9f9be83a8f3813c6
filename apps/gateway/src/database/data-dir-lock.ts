import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { lock } from 'proper-lockfile';

export class DataDirLockedError extends Error {
  constructor(dataDir: string) {
    super(`DATA_DIR ${dataDir} is in use by another gateway process (one process per data folder)`);
    this.name = 'DataDirLockedError';
  }
}

/**
 * Takes the data folder for this process. A second gateway on the same folder would corrupt
 * the embedded database, so it is refused with a clear message instead.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  // PGlite hangs for a long time when the folder's parent is missing: make it first.
  mkdirSync(dataDir, { recursive: true });
  try {
    return await lock(dataDir, {
      lockfilePath: join(dataDir, 'gateway.lock'),
      stale: 15_000,
      update: 5_000,
      retries: 0,
      // The lock file vanished (the folder was removed or tampered with): say so loudly, do not crash.
      onCompromised: (error) =>
        new Logger('Database').error({ err: error.message, data_dir: dataDir }, 'DATA_DIR lock lost'),
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') {
      throw new DataDirLockedError(dataDir);
    }
    throw error;
  }
}
