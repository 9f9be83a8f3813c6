import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { queryRequestSchema } from '../agent/agent.dto';
import { jsonText } from '../common/json-text';

/** GET /agent/stream carries the query in the URL: options arrive as a JSON string. */
export const streamQueryParamsSchema = z.strictObject({
  ...queryRequestSchema.shape,
  options: jsonText('options must be a JSON object', 16_384).optional().pipe(queryRequestSchema.shape.options),
  ticket: z.string().max(4096).optional(),
});

export class StreamQueryParamsDto extends createZodDto(streamQueryParamsSchema) {}
export class StreamBodyDto extends createZodDto(queryRequestSchema) {}

/** A Last-Event-ID as we send it: `<run id>:<seq>`. */
export const lastEventIdSchema = z
  .string()
  .regex(/^[0-9a-f-]{36}:\d{1,9}$/i)
  .transform((id) => {
    const [runId, seq] = id.split(':');
    return { runId, afterSeq: Number(seq) };
  });

export const wsMessageSchema = z.discriminatedUnion('event', [
  z.strictObject({ event: z.literal('query'), data: queryRequestSchema }),
  z.strictObject({ event: z.literal('cancel'), data: z.strictObject({ run_id: z.uuid() }) }),
  z.strictObject({
    event: z.literal('resume'),
    data: z.strictObject({ run_id: z.uuid(), after_seq: z.number().int().min(-1).default(-1) }),
  }),
]);

export type WsMessage = z.infer<typeof wsMessageSchema>;

export const streamTicketSchema = z.object({
  ticket: z.string().describe('Opens one stream (SSE or WebSocket) as `?ticket=`; a second open gets 401'),
  expires_in: z.number().int().describe('Seconds the ticket stays valid'),
});

export class StreamTicketDto extends createZodDto(streamTicketSchema) {}
