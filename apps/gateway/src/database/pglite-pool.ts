import { EventEmitter } from 'node:events';
import type { PGlite, Results } from '@electric-sql/pglite';

type Release = (error?: unknown) => void;
type ConnectCallback = (error: Error | null, client: PGliteClient | null, release: Release) => void;

interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results['fields'];
}

const ACQUIRE_TIMEOUT_MS = 15_000;

/** A pg-compatible connection over the single PGlite session. */
class PGliteClient extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }

  async query(sql: string, params?: unknown[]): Promise<PgResult> {
    // Parameterless strings may hold several statements (migrations): exec runs them all.
    const result =
      params && params.length > 0
        ? await this.db.query(sql, params)
        : ((await this.db.exec(sql)).at(-1) ?? { rows: [], fields: [], affectedRows: 0 });
    const command = (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase();
    return {
      rows: result.rows,
      rowCount: result.affectedRows ?? result.rows.length,
      command,
      fields: result.fields,
    };
  }
}

/**
 * The `Pool` TypeORM's postgres driver expects, over one in-process PGlite database.
 * PGlite has one session: if two query runners shared it, their transactions would interleave
 * (one's ROLLBACK undoing the other's work, one's rows committed by the other's COMMIT). So the
 * connection is handed to one runner at a time; the others wait their turn, bounded by a timeout.
 */
export class PGlitePool extends EventEmitter {
  private readonly client: PGliteClient;
  private readonly waiting: Array<() => void> = [];
  private busy = false;

  constructor(
    private readonly db: PGlite,
    private readonly onClosed: () => Promise<void> = () => Promise.resolve(),
  ) {
    super();
    this.client = new PGliteClient(db);
  }

  connect(callback: ConnectCallback): void {
    if (!this.busy) return this.grant(callback);
    const waiter = () => {
      clearTimeout(timer);
      this.grant(callback);
    };
    this.waiting.push(waiter);
    const timer = setTimeout(() => {
      const index = this.waiting.indexOf(waiter);
      if (index >= 0) this.waiting.splice(index, 1);
      callback(new Error('embedded database busy: timed out waiting for the connection'), null, () => undefined);
    }, ACQUIRE_TIMEOUT_MS);
  }

  private grant(callback: ConnectCallback): void {
    this.busy = true;
    let released = false;
    callback(null, this.client, () => {
      if (released) return;
      released = true;
      this.busy = false;
      this.waiting.shift()?.();
    });
  }

  query(sql: string, params?: unknown[]): Promise<PgResult> {
    return new Promise((resolve, reject) =>
      this.connect((error, client, release) => {
        if (error || !client) return reject(error ?? new Error('no connection'));
        client.query(sql, params).then(
          (result) => {
            release();
            resolve(result);
          },
          (queryError: Error) => {
            release();
            reject(queryError);
          },
        );
      }),
    );
  }

  end(callback?: (error?: Error) => void): void {
    this.db
      .close()
      .then(() => this.onClosed())
      .then(
        () => callback?.(),
        (error: Error) => callback?.(error),
      );
  }
}

/** What TypeORM takes as `driver`: a module with a Pool class, bound to one PGlite database. */
export function pgliteDriver(db: PGlite, onClosed?: () => Promise<void>): { Pool: new () => PGlitePool } {
  return {
    Pool: class extends PGlitePool {
      constructor() {
        super(db, onClosed);
      }
    },
  };
}
