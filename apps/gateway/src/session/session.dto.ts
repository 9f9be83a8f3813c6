import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

export const MAX_CONTEXT_BYTES = 16 * 1024;
export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

const contextSchema = z
  .record(z.string().max(128), z.json())
  .refine((context) => Buffer.byteLength(JSON.stringify(context)) <= MAX_CONTEXT_BYTES, {
    message: `context must be at most ${MAX_CONTEXT_BYTES} bytes of JSON`,
  });

export const createSessionSchema = z.strictObject({
  agent_id: z.string().min(1).max(63),
  context: contextSchema.optional(),
});

export const messagesPageSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'cursor must be a next_cursor value from a previous page')
    .optional(),
});

export class CreateSessionDto extends createZodDto(createSessionSchema) {}
export class MessagesPageDto extends createZodDto(messagesPageSchema) {}

export interface SessionDto {
  id: string;
  agent_id: string;
  state: 'active' | 'closed';
  context: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
}

export interface MessageDto {
  id: string;
  role: 'user' | 'assistant' | 'system';
  content: string;
  metadata: Record<string, unknown>;
  created_at: string;
}

export interface MessagesPageResponseDto {
  messages: MessageDto[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  next_cursor: string | null;
}
