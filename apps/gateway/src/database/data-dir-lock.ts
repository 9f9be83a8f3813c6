import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') {
      throw new DataDirLockedError(dataDir);
    }
    throw error;
  }
}
