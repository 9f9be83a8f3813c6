import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

/** A session that does not exist, or is not the caller's: the same answer, so that ids reveal nothing. */
export function sessionNotFound(id: string): AppException {
  return new AppException(ErrorCode.SESSION_NOT_FOUND, `session not found: ${id}`);
}

/** A session of the caller's that was closed: readable, but nothing goes into it any more. */
export function sessionClosed(id: string): AppException {
  return new AppException(ErrorCode.SESSION_CLOSED, `session ${id} is closed`);
}
