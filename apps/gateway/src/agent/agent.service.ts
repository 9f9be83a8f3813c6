import { Injectable, Logger } from '@nestjs/common';
import type { QueryResponse } from '@app/contracts';
import { AnswerCache, type CacheUse } from '../cache/answer-cache';
import { AppConfig } from '../config/app-config';
import { mapError, mapErrorLogged } from '../errors/all-exceptions.filter';
import { ConversationService, type Turn } from '../session/conversation.service';
import { AgentClient, type CallContext } from './agent-client';
import type { BatchItemDto, QueryInput, QueryResponseDto } from './agent.dto';
import { toAgentRequest } from './agent-request';
import { mapWithConcurrency } from './concurrency';

/** Answers queries through the agent client: one, or a batch with bounded concurrency; in a session, stored. */
@Injectable()
export class AgentService {
  private readonly logger = new Logger(AgentService.name);

  constructor(
    private readonly client: AgentClient,
    private readonly conversations: ConversationService,
    private readonly config: AppConfig,
    private readonly cache: AnswerCache,
  ) {}

  async query(input: QueryInput, context: CallContext): Promise<QueryResponseDto> {
    const turn = input.session_id
      ? await this.conversations.begin(context.userId, input.session_id, input.agent_id, input.query, context.requestId)
      : undefined;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let response: QueryResponse;
    try {
      response = await this.client.query(input.agent_id, toAgentRequest(input, context.requestId, turn), context);
    } catch (error) {
      if (turn) await this.recordFailure(turn, error, elapsed());
      throw error;
    }
    const dto = toDto(input.agent_id, response, elapsed());
    if (turn) {
      await this.conversations.complete(turn, {
        answer: dto.answer,
        sources: dto.sources,
        usage: dto.usage,
        latencyMs: dto.latency_ms,
        agentResponseId: dto.id,
      });
    }
    return dto;
  }

  /**
   * Never all-or-nothing: each item gets its answer or its own error, in request order. Items are
   * answered from the cache as the query route answers them (`use` from the batch's Cache-Control).
   */
  batch(inputs: QueryInput[], context: CallContext, use: CacheUse): Promise<BatchItemDto[]> {
    return mapWithConcurrency(inputs, this.config.limits.batchConcurrency, async (input) => {
      try {
        return { response: await this.queryThroughCache(input, context, use) };
      } catch (error) {
        return { error: mapErrorLogged(this.logger, error, { request_id: context.requestId }).body };
      }
    });
  }

  private async queryThroughCache(input: QueryInput, context: CallContext, use: CacheUse): Promise<QueryResponseDto> {
    const agent = this.cache.cacheableAgent(input.agent_id, input.session_id);
    if (!agent || use === 'none') return this.query(input, context);
    const key = this.cache.keyFor({ agent, userId: context.userId, query: input.query, options: input.options ?? {} });
    const hit = await this.cache.lookup(key, agent.id, use);
    if (hit !== undefined) return JSON.parse(hit) as QueryResponseDto;
    const answer = await this.query(input, context);
    this.cache.set(key, answer, agent.cache.ttl_ms);
    return answer;
  }

  private async recordFailure(turn: Turn, error: unknown, latencyMs: number): Promise<void> {
    try {
      await this.conversations.fail(turn, '', mapError(error).body.code, latencyMs);
    } catch (storeError) {
      // The agent's error is what the caller must see; the lost record is logged.
      this.logger.error(
        { err: storeError, request_id: turn.requestId, session_id: turn.sessionId },
        'could not record a failed turn',
      );
    }
  }
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
