import { isUtf8 } from 'node:buffer';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { AppModule } from './app.module';
import type { AppConfig } from './config/app-config';
import { createLogger, PinoLoggerService } from './observability/logger';
import { REQUEST_ID_HEADER, requestIdFor } from './observability/request-id';
import { AuthenticatedWsAdapter } from './stream/ws-auth.adapter';
import { MetricsService } from './observability/metrics.service';
import { OpenApiDocument } from './observability/docs.controller';
import { buildOpenApiDocument } from './observability/openapi';
import { AppException } from './errors/app.exception';
import { ErrorCode } from './errors/error-code';
import { answerClientError } from './errors/client-error';
import { useFastAsyncResourceBind } from './common/async-resource-bind';

// Fastify's parser does not say which: valid JSON with such a key is refused as well, for safety.
const MALFORMED_JSON_MESSAGE = 'request body is not valid JSON, or has a __proto__ or constructor.prototype key';

// JSON is UTF-8 (RFC 8259 §8.1); a charset parameter may say so, and may say nothing else.
const OTHER_CHARSET = /;\s*charset\s*=\s*"?(?!utf-?8\b)[^";\s]/i;

/** Fastify's own JSON parser (with prototype-poisoning protection), failing with MALFORMED_JSON. */
function useJsonErrorsWithOurCodes(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  // JSON is the only body this API takes: anything else is 415, not a confusing 400.
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  // As bytes: decoded as text, bytes that are not UTF-8 would become U+FFFD, changing what the client sent.
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    // No body at all (a DELETE from a client that always sends the header) is no body, not bad JSON;
    // routes that need one say so when they validate it.
    if (bytes.length === 0) return done(null, undefined);
    if (OTHER_CHARSET.test(request.headers['content-type'] ?? '')) {
      return done(new AppException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'JSON bodies must be UTF-8'), undefined);
    }
    if (!isUtf8(bytes)) return done(new AppException(ErrorCode.MALFORMED_JSON, 'request body is not UTF-8'), undefined);
    void parse(request, bytes.toString('utf8'), (error, value) => {
      if (error) done(new AppException(ErrorCode.MALFORMED_JSON, MALFORMED_JSON_MESSAGE), undefined);
      else done(null, value);
    });
  });
}

/**
 * CORS for browser apps served from another origin (@fastify/cors, through Nest): preflights are answered
 * before auth and rate limits, and scripts may read the headers clients act on. Credentials stay off: the
 * API takes bearer tokens, never cookies. With no origin allowed (production's default) nothing is added.
 */
function useCors(app: NestFastifyApplication, allowedOrigins: '*' | string[]): void {
  if (allowedOrigins !== '*' && allowedOrigins.length === 0) return;
  app.enableCors({
    origin: allowedOrigins,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'cache-control',
      'last-event-id',
      REQUEST_ID_HEADER,
      'traceparent',
    ],
    exposedHeaders: [
      REQUEST_ID_HEADER,
      'x-cache',
      'retry-after',
      'ratelimit-limit',
      'ratelimit-remaining',
      'ratelimit-reset',
      'ratelimit-policy',
    ],
    maxAge: 600,
  });
}

/** Builds the gateway (not yet listening): the same pipeline for main.ts and the tests. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  useFastAsyncResourceBind();
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // Fastify turns Node's request timeout off: a client trickling a body would hold its connection for
    // ever. Node enforces it only with a headers timeout no longer than it (else never, on Node 20), and
    // checks both on an interval (30 s by default): a quarter of the timeout keeps the check near.
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, config.http.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.http.requestTimeoutMs / 4)),
    },
    genReqId: requestIdFor,
    requestIdHeader: false,
    trustProxy: config.http.trustProxy ?? false,
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
  });
  const logger = createLogger(config.logLevel);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forConfig(config), adapter, {
    logger: new PinoLoggerService(logger),
    bodyParser: false, // our JSON parser is registered below
    abortOnError: false, // start-up errors reach the caller (main exits 1, tests fail) instead of process.exit
  });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    // Answers belong to their caller and probes to their moment: no cache, a browser's own included,
    // keeps one (RFC 9111 §5.2.2.5; shared caches must not store authorized responses anyway).
    void reply.header('cache-control', 'no-store');
    // Every answer is JSON: a browser must not guess otherwise from content a client put in it.
    void reply.header('x-content-type-options', 'nosniff');
    done();
  });
  useJsonErrorsWithOurCodes(fastify);
  useCors(app, config.http.allowedOrigins);
  const metrics = app.get(MetricsService);
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route template, not the URL: ids in paths must not explode the label space.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (logger.isLevelEnabled('info')) {
      logger.info(
        {
          request_id: request.id,
          method: request.method,
          route,
          status: reply.statusCode,
          response_time_ms: Math.round(reply.elapsedTime),
        },
        'request completed',
      );
    }
    done();
  });
  app.useWebSocketAdapter(new AuthenticatedWsAdapter(app));
  app.get(OpenApiDocument).document = buildOpenApiDocument(app);
  return app;
}
