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
