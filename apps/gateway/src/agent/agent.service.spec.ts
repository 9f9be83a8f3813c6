import { Logger } from '@nestjs/common';
import type { QueryResponse } from '@app/contracts';
import type { Cache } from 'cache-manager';
import { AnswerCache } from '../cache/answer-cache';
import { AppConfig } from '../config/app-config';
import type { MetricsService } from '../observability/metrics.service';
import { ErrorCode } from '../errors/error-code';
import type { ConversationService } from '../session/conversation.service';
import type { AgentClient } from './agent-client';
import { AgentService } from './agent.service';

const answer: QueryResponse = { id: 'answer-1', answer: 'fine', sources: [], usage: null, latency_ms: 1 };

describe('AgentService: a batch item that fails on a fault of ours', () => {
  afterEach(() => jest.restoreAllMocks());

  it('gets INTERNAL in its place, the other items their answers, and its cause is logged', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const bug = new TypeError("Cannot read properties of undefined (reading 'answer')");
    const client = {
      query: (_agent: string, request: { query: string }) =>
        request.query === 'breaks' ? Promise.reject(bug) : Promise.resolve(answer),
    } as unknown as AgentClient;
    const config = AppConfig.fromEnv({});
    const cache = new AnswerCache({} as Cache, config, {} as MetricsService); // never consulted: no-store
    const service = new AgentService(client, {} as ConversationService, config, cache);
    const items = ['fine', 'breaks', 'fine'].map((query) => ({ agent_id: 'reference', query, options: {} }));
    const results = await service.batch(items, { userId: 'alice', requestId: 'req-1' }, 'none');
    expect(results.map((r) => ('response' in r ? r.response.answer : r.error))).toEqual([
      'fine',
      { status: 500, code: ErrorCode.INTERNAL, message: 'internal error' },
      'fine',
    ]);
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: bug, request_id: 'req-1' }), 'unhandled error');
  });
});
