import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodValidationException } from 'nestjs-zod';
import { ZodError } from 'zod';
import { AppException, type ErrorBody } from './app.exception';
import { isDatabaseUnavailable } from './database-errors';
import { ErrorCode, errorCodeOfStatus } from './error-code';

export interface MappedError {
  body: Omit<ErrorBody, 'request_id'>;
  retryAfterSeconds?: number;
}

/** At most five issues, each after the path it is about (none for the input as a whole). */
export function describeZodError(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Turns anything thrown into the public error shape; unknown errors become a bare 500. */
export function mapError(error: unknown): MappedError {
  if (error instanceof AppException) {
    return {
      body: { status: error.status, code: error.code, message: error.message },
      retryAfterSeconds: error.retryAfterSeconds,
    };
  }
  if (error instanceof ZodValidationException) {
    const zodError = error.getZodError();
    const message = zodError instanceof ZodError ? describeZodError(zodError) : 'invalid request';
    return { body: { status: 400, code: ErrorCode.VALIDATION_FAILED, message } };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      body: { status: 503, code: ErrorCode.DATABASE_UNAVAILABLE, message: 'the database is unavailable' },
      retryAfterSeconds: 1,
    };
  }
  // Nest wraps Fastify's own errors (body too large, unsupported media type) in HttpException.
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = errorCodeOfStatus(status);
    const message = status >= 500 ? 'internal error' : error.message;
    return { body: { status: status >= 500 ? 500 : status, code, message } };
  }
  return { body: { status: 500, code: ErrorCode.INTERNAL, message: 'internal error' } };
}

/**
 * Logs the cause of an error mapped to `code` when the fault is ours (a bug) or the database's: the
 * caller only sees "internal error", so the log is the one place the cause is kept. Everywhere an
 * error becomes a response or an event does this, not only the HTTP filter.
 */
export function logIfUnexpected(logger: Logger, code: ErrorCode, error: unknown, where: Record<string, unknown>): void {
  if (code === ErrorCode.INTERNAL || code === ErrorCode.DATABASE_UNAVAILABLE) {
    logger.error({ err: error, ...where }, 'unhandled error');
  }
}

/** `mapError`, with the cause logged when the fault is ours: for every place an error becomes an answer. */
export function mapErrorLogged(logger: Logger, error: unknown, where: Record<string, unknown>): MappedError {
  const mapped = mapError(error);
  logIfUnexpected(logger, mapped.body.code, error, where);
  return mapped;
}

export function sendError(reply: FastifyReply, request: FastifyRequest, error: unknown, logger: Logger): void {
  const { body, retryAfterSeconds } = mapErrorLogged(logger, error, { request_id: request.id });
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
  void reply.status(body.status).send({ ...body, request_id: request.id });
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), error, this.logger);
  }
}
