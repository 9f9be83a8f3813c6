import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

/** A session that does not exist, or is not the caller's: the same answer, so that ids reveal nothing. */
export function sessionNotFound(id: string): AppException {
  return new AppException(ErrorCode.SESSION_NOT_FOUND, `session not found: ${id}`);
}

/** A user at MAX_ACTIVE_SESSIONS_PER_USER: closing one (DELETE) makes room; waiting does not. */
export function tooManySessions(max: number): AppException {
  return new AppException(
    ErrorCode.TOO_MANY_SESSIONS,
    `${max} active sessions is the most a user may have: close one (DELETE /api/v1/session/:id) to open another`,
  );
}

/** A session of the caller's that was closed: readable, but nothing goes into it any more. */
export function sessionClosed(id: string): AppException {
  return new AppException(ErrorCode.SESSION_CLOSED, `session ${id} is closed`);
}
