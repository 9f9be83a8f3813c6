/**
 * Runs `fn` with stack capture off. grpc-js captures the caller's stack for every call, in case
 * it fails (5 µs and a retained trace per call, here); ours are translated into answers and never
 * logged with that stack.
 */
export function withoutStackTrace<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * An error that is an answer or a wrapper, never logged with a stack, so none is captured: that
 * was a measurable share of a refused request, and of thousands of streams ending at once.
 */
export class StacklessError extends Error {
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}
