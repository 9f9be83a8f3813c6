import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config';

/** Fields that may hold credentials: never written to the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  'req.query.token',
  'req.query.ticket',
];

/** Structured JSON logs; every line of a request carries its request id. */
@Module({})
export class ObservabilityModule {
  static forConfig(config: AppConfig): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            // Fastify assigned the id already (see bootstrap); reuse it so logs, errors and the header agree.
            genReqId: (req) => (req as unknown as { id?: string }).id ?? '',
            // Every line logged while serving a request carries its id under the same key as the agent's logs.
            customProps: (req) => ({ request_id: (req as unknown as { id?: string }).id }),
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            serializers: {
              req: (req: { method: string; url: string }) => ({
                method: req.method,
                url: req.url?.split('?')[0],
              }),
            },
          },
        }),
      ],
    };
  }
}
