import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { isStorableJson, UNSTORABLE_TEXT_MESSAGE } from '../database/storable-text';

export const MAX_CONTEXT_BYTES = 16 * 1024;
export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

const contextSchema = z
  .record(z.string().max(128), z.json())
  .refine((context) => Buffer.byteLength(JSON.stringify(context)) <= MAX_CONTEXT_BYTES, {
    message: `context must be at most ${MAX_CONTEXT_BYTES} bytes of JSON`,
  })
  .refine(isStorableJson, UNSTORABLE_TEXT_MESSAGE)
  .describe("Any JSON object: sent to the agent with every query into the session (the contract's context_json)");

const pageLimit = z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE);
const nextCursor = z.string().nullable().describe('Pass as `cursor` to get the next page; null on the last page');

export const createSessionSchema = z.strictObject({
  agent_id: z.string().min(1).max(63),
  context: contextSchema.optional(),
});

export const updateSessionSchema = z.strictObject({ context: contextSchema });

export const messagesPageSchema = z.strictObject({
  limit: pageLimit,
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'cursor must be a next_cursor value from a previous page')
    .optional(),
});

export const sessionsPageSchema = z.strictObject({
  limit: pageLimit,
  cursor: z.uuid('cursor must be a next_cursor value from a previous page').optional(),
  state: z.enum(['active', 'closed']).optional(),
  agent_id: z.string().min(1).max(63).optional(),
});

export class CreateSessionDto extends createZodDto(createSessionSchema) {}
export class UpdateSessionDto extends createZodDto(updateSessionSchema) {}
export class MessagesPageDto extends createZodDto(messagesPageSchema) {}
export class SessionsPageDto extends createZodDto(sessionsPageSchema) {}
export type SessionsPage = z.infer<typeof sessionsPageSchema>;

export const sessionSchema = z.object({
  id: z.uuid(),
  agent_id: z.string(),
  state: z.enum(['active', 'closed']),
  context: z.record(z.string(), z.unknown()),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  closed_at: z.iso.datetime().nullable(),
});

export const messageSchema = z.object({
  id: z.uuid(),
  role: z.enum(['user', 'assistant', 'system']),
  content: z.string(),
  metadata: z
    .record(z.string(), z.unknown())
    .describe('sources, usage, latency_ms, request_id, reply_to; incomplete and reason when the answer did not finish'),
  created_at: z.iso.datetime(),
});

export const messagesPageResponseSchema = z.object({
  messages: z.array(messageSchema),
  next_cursor: nextCursor,
});

export const sessionsPageResponseSchema = z.object({
  sessions: z.array(sessionSchema),
  next_cursor: nextCursor,
});

export class SessionDto extends createZodDto(sessionSchema) {}
export class SessionsPageResponseDto extends createZodDto(sessionsPageResponseSchema) {}
export type MessageDto = z.infer<typeof messageSchema>;
export class MessagesPageResponseDto extends createZodDto(messagesPageResponseSchema) {}
