import { StacklessError } from '../common/without-stack-trace';
import { ErrorCode, httpStatusOf } from './error-code';

/**
 * A domain error with a stable code; its HTTP status comes from httpStatusOf. It carries no stack
 * trace: it is an answer (503 breaker open, 429, 404), never logged with one, and capturing a stack
 * was a measurable share of the CPU of a refused request.
 */
export class AppException extends StacklessError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds a client should wait before trying again (503, 429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppException';
  }

  get status(): number {
    return httpStatusOf(this.code);
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  status: number;
  code: ErrorCode;
  message: string;
  request_id: string;
}
