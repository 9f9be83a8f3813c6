import { QueryFailedError } from 'typeorm';

/** Postgres SQLSTATEs that mean "the database cannot serve now", not "this request is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // statement timeout / query_canceled
  '57P01', // admin shutdown
  '57P03', // cannot connect now
  '53300', // too many connections
  '08006', // connection failure
  '08001', // unable to connect
]);

const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

const UNAVAILABLE_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|ECONNREFUSED|ECONNRESET|Query read timeout|embedded database busy|Driver not Connected/i;

/** True when an error means the database is down, slow or saturated: worth a 503 and a retry. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof QueryFailedError) {
    const code = (error.driverError as { code?: string } | undefined)?.code;
    if (code && UNAVAILABLE_SQLSTATES.has(code)) return true;
  }
  // Socket errors come from Node's own realm: checked by shape, not by instanceof.
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && UNAVAILABLE_SOCKET_CODES.has(code)) return true;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message);
}

/** True when a write failed on this constraint: a foreign key whose row is gone, say. */
export function violatesConstraint(error: unknown, constraint: string): boolean {
  return (
    error instanceof QueryFailedError && (error.driverError as { constraint?: unknown })?.constraint === constraint
  );
}
