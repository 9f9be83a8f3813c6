import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../database/storable-text';

export const MAX_QUERY_CHARS = 8000;
export const MAX_OPTIONS = 32;
export const MAX_OPTION_VALUE_CHARS = 1024;
export const MAX_BATCH_ITEMS = 32;

const optionsSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'option names are 1-64 letters, digits, _ . -'),
    z.union([z.string().max(MAX_OPTION_VALUE_CHARS), z.number(), z.boolean()]),
  )
  .refine((options) => Object.keys(options).length <= MAX_OPTIONS, `at most ${MAX_OPTIONS} options`);

export const queryRequestSchema = z.strictObject({
  agent_id: z.string().min(1).max(63),
  query: z
    .string()
    .trim()
    .min(1, 'query must not be empty')
    .max(MAX_QUERY_CHARS)
    // Refused for every query, not only those into a session, so that a query never depends on where it goes.
    .refine(isStorableText, UNSTORABLE_TEXT_MESSAGE),
  session_id: z.uuid().optional(),
  options: optionsSchema.optional(),
});

export const batchRequestSchema = z.strictObject({
  requests: z.array(queryRequestSchema).min(1).max(MAX_BATCH_ITEMS),
});

export class QueryRequestDto extends createZodDto(queryRequestSchema) {}
export class BatchRequestDto extends createZodDto(batchRequestSchema) {}

export type QueryInput = z.infer<typeof queryRequestSchema>;

const sourceSchema = z.object({
  id: z.string(),
  title: z.string(),
  content: z.string(),
  score: z.number(),
  uri: z.string(),
});

const usageSchema = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
});

export const queryResponseSchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  answer: z.string(),
  sources: z.array(sourceSchema),
  usage: usageSchema,
  latency_ms: z.number().int().describe('Time the gateway waited for the agent, in milliseconds'),
});

export const errorBodySchema = z.object({
  status: z.number().int(),
  code: z.string().describe('A stable error code, such as AGENT_NOT_FOUND or CIRCUIT_OPEN'),
  message: z.string(),
  request_id: z.string(),
});

const batchItemSchema = z.union([
  z.object({ response: queryResponseSchema }),
  z.object({ error: errorBodySchema.omit({ request_id: true }) }),
]);

export const batchResponseSchema = z.object({ responses: z.array(batchItemSchema) });

export const agentInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['rag', 'tool', 'chat']),
  description: z.string().nullable(),
  state: z
    .enum(['ready', 'connecting', 'unavailable'])
    .describe('ready: a target is connected; connecting: not yet known; unavailable: no target can be reached'),
  config: z.object({ deadline_ms: z.number().int(), targets: z.number().int() }),
});

export const agentListSchema = z.object({ agents: z.array(agentInfoSchema) });

export type SourceDto = z.infer<typeof sourceSchema>;
export type UsageDto = z.infer<typeof usageSchema>;
export class QueryResponseDto extends createZodDto(queryResponseSchema) {}
export class ErrorBodyDto extends createZodDto(errorBodySchema) {}
export class BatchResponseDto extends createZodDto(batchResponseSchema) {}
export type BatchItemDto = z.infer<typeof batchItemSchema>;
export class AgentInfoDto extends createZodDto(agentInfoSchema) {}
export class AgentListDto extends createZodDto(agentListSchema) {}
