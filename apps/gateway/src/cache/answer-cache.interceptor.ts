import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { from, lastValueFrom, of, type Observable } from 'rxjs';
import { queryRequestSchema } from '../agent/agent.dto';
import { onClientLeft, type CallerRequest } from '../agent/call-context';
import type { CancelSignal } from '../common/cancel-signal';
import { AnswerCache, cacheUseOf } from './answer-cache';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Serves repeated questions from the cache: only for agents with a cache TTL and only without a
 * session (a conversation's answer depends on its history). `Cache-Control: no-cache` skips the
 * lookup (the fresh answer is stored); `no-store` skips the cache altogether, lookup and storing.
 * The response says `X-Cache: HIT` or `MISS` when the cache took part.
 */
@Injectable()
export class AnswerCacheInterceptor implements NestInterceptor {
  constructor(private readonly cache: AnswerCache) {}

  async intercept(context: ExecutionContext, next: CallHandler<unknown>): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const request = http.getRequest<CallerRequest>();
    const reply = http.getResponse<FastifyReply>();
    // Queries the cache takes no part in, told from the raw body: the handler's pipe validates them.
    const raw = request.body as { agent_id?: unknown; session_id?: unknown } | undefined;
    const agent = this.cache.cacheableAgent(raw?.agent_id, raw?.session_id);
    const use = cacheUseOf(request.headers['cache-control']);
    if (!agent || use === 'none') return next.handle();
    // Interceptors run before the validation pipe, and a hit never reaches it: only a request the route
    // would accept may be answered from the cache. Anything else goes on to the pipe, for its 400.
    const input = queryRequestSchema.safeParse(request.body);
    if (!input.success) return next.handle();
    const { query, options = {} } = input.data;
    const key = this.cache.keyFor({ agent, userId: request.user!.id, query, options });
    const hit = await this.cache.lookup(key, agent.id, use);
    if (hit !== undefined) {
      void reply.header('x-cache', 'HIT').type(JSON_TYPE);
      return of(hit);
    }
    // Every caller gets the JSON text just stored, like a hit.
    void reply.header('x-cache', 'MISS').type(JSON_TYPE);
    const load = async () => this.cache.set(key, await lastValueFrom(next.handle()), agent.cache.ttl_ms);
    if (use === 'refresh') return from(load());
    const shared = (signal: CancelSignal) => {
      request.sharedCallSignal = signal; // the agent call outlives this caller while others wait for it
      return load();
    };
    return from(this.cache.coalesce(key, shared, (listener) => onClientLeft(reply, listener)));
  }
}
