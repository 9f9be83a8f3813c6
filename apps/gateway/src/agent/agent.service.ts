import { Injectable } from '@nestjs/common';
import type { QueryResponse } from '@app/contracts';
import { AppConfig } from '../config/app-config';
import { mapError } from '../errors/all-exceptions.filter';
import { AgentClient, type CallContext } from './agent-client';
import type { BatchItemDto, QueryInput, QueryResponseDto } from './agent.dto';
import { mapWithConcurrency } from './concurrency';

/** Answers queries through the agent client: one, or a batch with bounded concurrency. */
@Injectable()
export class AgentService {
  constructor(
    private readonly client: AgentClient,
    private readonly config: AppConfig,
  ) {}

  async query(input: QueryInput, context: CallContext): Promise<QueryResponseDto> {
    const started = performance.now();
    const response = await this.client.query(
      input.agent_id,
      {
        agent_id: input.agent_id,
        session_id: input.session_id ?? '',
        query: input.query,
        options: stringifyOptions(input.options),
        history: [],
        request_id: context.requestId,
      },
      context,
    );
    return toDto(input.agent_id, response, Math.round(performance.now() - started));
  }

  /** Never all-or-nothing: each item gets its answer or its own error, in request order. */
  batch(inputs: QueryInput[], context: CallContext): Promise<BatchItemDto[]> {
    return mapWithConcurrency(inputs, this.config.limits.batchConcurrency, async (input) => {
      try {
        return { response: await this.query(input, context) };
      } catch (error) {
        return { error: mapError(error).body };
      }
    });
  }
}

function stringifyOptions(options: Record<string, string | number | boolean> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [k, String(v)]));
}

function toDto(agentId: string, r: QueryResponse, latencyMs: number): QueryResponseDto {
  return {
    id: r.id,
    agent_id: agentId,
    answer: r.answer,
    sources: r.sources.map(({ id, title, content, score, uri }) => ({ id, title, content, score, uri })),
    usage: r.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    latency_ms: latencyMs,
  };
}
