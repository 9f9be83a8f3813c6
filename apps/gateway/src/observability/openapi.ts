import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { ErrorBodyDto } from '../agent/agent.dto';

type Operation = {
  responses?: Record<string, unknown>;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
};

/** Errors any authenticated route may answer with, in the one error shape. */
const COMMON_ERRORS: Record<string, string> = {
  '400': 'Bad input (VALIDATION_FAILED, MALFORMED_JSON)',
  '401': 'No token, or a bad one (UNAUTHENTICATED)',
  '413': 'Body too large (PAYLOAD_TOO_LARGE)',
  '429': 'Rate limited (RATE_LIMITED); see Retry-After and RateLimit-* headers',
  '500': 'Unexpected error (INTERNAL)',
  '503': 'Agent, database or rate limits unavailable, or circuit open; see Retry-After',
};

/**
 * The OpenAPI document, generated from the same zod schemas the validation uses, with the bearer
 * scheme on every /api/v1 route and the error shape on every error response.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Agent gateway')
    .setDescription(
      'REST, Server-Sent Events and WebSocket (`/api/v1/stream`, messages `{event, data}`) front door for gRPC agents.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .build();
  const document = cleanupOpenApiDoc(SwaggerModule.createDocument(app, config, { extraModels: [ErrorBodyDto] }));
  const errorRef = { $ref: '#/components/schemas/ErrorBodyDto' };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of Object.values(item) as Operation[]) {
      if (!path.startsWith('/api/v1')) continue;
      operation.security = [{ bearer: [] }];
      operation.responses ??= {};
      for (const [status, description] of Object.entries(COMMON_ERRORS)) {
        operation.responses[status] ??= { description, content: { 'application/json': { schema: errorRef } } };
      }
      if (path.includes('{')) {
        operation.responses['404'] ??= {
          description: 'Unknown, or not yours (AGENT_NOT_FOUND, SESSION_NOT_FOUND, RUN_NOT_FOUND)',
          content: { 'application/json': { schema: errorRef } },
        };
      }
    }
  }
  return document;
}
