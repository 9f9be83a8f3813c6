import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

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
  query: z.string().trim().min(1, 'query must not be empty').max(MAX_QUERY_CHARS),
  session_id: z.uuid().optional(),
  options: optionsSchema.optional(),
});

export const batchRequestSchema = z.strictObject({
  requests: z.array(queryRequestSchema).min(1).max(MAX_BATCH_ITEMS),
});

export class QueryRequestDto extends createZodDto(queryRequestSchema) {}
export class BatchRequestDto extends createZodDto(batchRequestSchema) {}

export type QueryInput = z.infer<typeof queryRequestSchema>;

export interface SourceDto {
  id: string;
  title: string;
  content: string;
  score: number;
  uri: string;
}

export interface UsageDto {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface QueryResponseDto {
  id: string;
  agent_id: string;
  answer: string;
  sources: SourceDto[];
  usage: UsageDto;
  /** Time the gateway waited for the agent, in milliseconds. */
  latency_ms: number;
}

export interface BatchItemErrorDto {
  status: number;
  code: string;
  message: string;
}

export type BatchItemDto = { response: QueryResponseDto } | { error: BatchItemErrorDto };

export interface BatchResponseDto {
  responses: BatchItemDto[];
}

export interface AgentInfoDto {
  id: string;
  name: string;
  type: 'rag' | 'tool' | 'chat';
  description: string | null;
  /** ready: a target is connected; connecting: not yet known; unavailable: no target can be reached. */
  state: 'ready' | 'connecting' | 'unavailable';
  config: { deadline_ms: number; targets: number };
}
