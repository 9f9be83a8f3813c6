/** Every error a client can see, with one stable code each. */
export enum ErrorCode {
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  MALFORMED_JSON = 'MALFORMED_JSON',
  MALFORMED_REQUEST = 'MALFORMED_REQUEST',
  REQUEST_TIMEOUT = 'REQUEST_TIMEOUT',
  HEADERS_TOO_LARGE = 'HEADERS_TOO_LARGE',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  METHOD_NOT_ALLOWED = 'METHOD_NOT_ALLOWED',
  AGENT_NOT_FOUND = 'AGENT_NOT_FOUND',
  SESSION_NOT_FOUND = 'SESSION_NOT_FOUND',
  SESSION_CLOSED = 'SESSION_CLOSED',
  TOO_MANY_SESSIONS = 'TOO_MANY_SESSIONS',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED = 'RATE_LIMITED',
  RATE_LIMIT_UNAVAILABLE = 'RATE_LIMIT_UNAVAILABLE',
  TOO_MANY_STREAMS = 'TOO_MANY_STREAMS',
  RUN_NOT_FOUND = 'RUN_NOT_FOUND',
  RUN_TOO_LARGE = 'RUN_TOO_LARGE',
  CLIENT_GONE = 'CLIENT_GONE',
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  AGENT_REJECTED = 'AGENT_REJECTED',
  AGENT_ERROR = 'AGENT_ERROR',
  AGENT_UNAVAILABLE = 'AGENT_UNAVAILABLE',
  AGENT_OVERLOADED = 'AGENT_OVERLOADED',
  AGENT_TIMEOUT = 'AGENT_TIMEOUT',
  CIRCUIT_OPEN = 'CIRCUIT_OPEN',
  REQUEST_CANCELLED = 'REQUEST_CANCELLED',
  DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

/** The one place codes become HTTP statuses; the switch is exhaustive, so a new code must be mapped. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.VALIDATION_FAILED:
    case ErrorCode.MALFORMED_JSON:
    case ErrorCode.MALFORMED_REQUEST:
    case ErrorCode.AGENT_REJECTED:
      return 400;
    case ErrorCode.UNAUTHENTICATED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.NOT_FOUND:
    case ErrorCode.AGENT_NOT_FOUND:
    case ErrorCode.SESSION_NOT_FOUND:
    case ErrorCode.RUN_NOT_FOUND:
      return 404;
    case ErrorCode.METHOD_NOT_ALLOWED:
      return 405;
    case ErrorCode.REQUEST_TIMEOUT:
      return 408;
    case ErrorCode.SESSION_CLOSED:
    case ErrorCode.TOO_MANY_SESSIONS:
      return 409;
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return 413;
    case ErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return 415;
    case ErrorCode.HEADERS_TOO_LARGE:
      return 431;
    case ErrorCode.RATE_LIMITED:
    case ErrorCode.TOO_MANY_STREAMS:
      return 429;
    case ErrorCode.REQUEST_CANCELLED:
    case ErrorCode.CLIENT_GONE:
      return 499;
    case ErrorCode.RUN_TOO_LARGE:
      return 502;
    case ErrorCode.SHUTTING_DOWN:
      return 503;
    case ErrorCode.INTERNAL:
      return 500;
    case ErrorCode.AGENT_ERROR:
      return 502;
    case ErrorCode.AGENT_UNAVAILABLE:
    case ErrorCode.AGENT_OVERLOADED:
    case ErrorCode.CIRCUIT_OPEN:
    case ErrorCode.DATABASE_UNAVAILABLE:
    case ErrorCode.RATE_LIMIT_UNAVAILABLE:
      return 503;
    case ErrorCode.AGENT_TIMEOUT:
      return 504;
  }
}

/** The code for an HTTP status raised outside our own exceptions (framework, Fastify). */
export function errorCodeOfStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.VALIDATION_FAILED;
    case 401:
      return ErrorCode.UNAUTHENTICATED;
    case 403:
      return ErrorCode.FORBIDDEN;
    case 404:
      return ErrorCode.NOT_FOUND;
    case 405:
      return ErrorCode.METHOD_NOT_ALLOWED;
    case 409:
      return ErrorCode.SESSION_CLOSED;
    case 413:
      return ErrorCode.PAYLOAD_TOO_LARGE;
    case 415:
      return ErrorCode.UNSUPPORTED_MEDIA_TYPE;
    case 429:
      return ErrorCode.RATE_LIMITED;
    default:
      return ErrorCode.INTERNAL;
  }
}
