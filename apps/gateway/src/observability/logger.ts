import type { LoggerService } from '@nestjs/common';
import pino, { type Logger as Pino } from 'pino';

/**
 * One pino logger for the process. A line about a request names it with a `request_id` field,
 * passed where the line is written: nothing is allocated per request unless a line is written.
 * Not a child logger per request (a quarter of the CPU under load), nor an AsyncLocalStorage (on
 * Node 20 its hooks on every promise and tick cost a fifth of a cache hit). Headers are never logged.
 */
export function createLogger(level: string): Pino {
  return pino({ level, base: { pid: process.pid } });
}

type Level = 'info' | 'warn' | 'error' | 'debug' | 'trace' | 'fatal';

/** Nest's logger interface over pino: `logger.warn({ fields }, 'message')` and plain strings both work. */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    // Nest appends the logger's context as the last argument.
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? params.pop() : undefined;
    if (message instanceof Error) {
      this.pino[level]({ context, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const text = typeof params[0] === 'string' ? params[0] : undefined;
      this.pino[level]({ context, ...(message as Record<string, unknown>) }, text);
    } else {
      const stack = level === 'error' && typeof params[0] === 'string' ? { stack: params[0] } : {};
      this.pino[level]({ context, ...stack }, String(message));
    }
  }
}
