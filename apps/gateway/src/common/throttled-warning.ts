import type { Logger } from '@nestjs/common';

/** How long a degraded dependency's warning stays quiet after it was logged. */
const QUIET_MS = 10_000;

/**
 * A warning logged at most once per 10 s: for a dependency that fails on every request while it
 * is away (Redis), one line says so without flooding the log.
 */
export function throttledWarning(logger: Logger, message: string): (fields: Record<string, unknown>) => void {
  let quietUntil = 0;
  return (fields) => {
    const now = Date.now();
    if (now < quietUntil) return;
    quietUntil = now + QUIET_MS;
    logger.warn(fields, message);
  };
}
