import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { from, lastValueFrom, of, type Observable } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../observability/metrics.service';
import { AnswerCache } from './answer-cache';

const JSON_TYPE = 'application/json; charset=utf-8';

interface QueryBody {
  agent_id?: unknown;
  query?: unknown;
  session_id?: unknown;
  options?: unknown;
}

/**
 * Serves repeated questions from the cache: only for agents with a cache TTL and only without a
 * session (a conversation's answer depends on its history). `Cache-Control: no-cache` skips the
 * lookup (the fresh answer is stored). The response says `X-Cache: HIT` or `MISS`.
 */
@Injectable()
export class AnswerCacheInterceptor implements NestInterceptor {
  constructor(
    private readonly cache: AnswerCache,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler<unknown>): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const reply = http.getResponse<FastifyReply>();
    const body = (request.body ?? {}) as QueryBody;
    const agent = this.config.agents.find((a) => a.id === body.agent_id);
    // Interceptors run before validation: anything unusual goes straight to the handler to be judged.
    if (!agent || agent.cache.ttl_ms === 0 || body.session_id !== undefined || typeof body.query !== 'string') {
      return next.handle();
    }
    const options =
      typeof body.options === 'object' && body.options !== null ? (body.options as Record<string, unknown>) : {};
    const key = this.cache.keyFor({ agent, userId: request.user!.id, query: body.query, options });
    const bypass = /\bno-cache\b/i.test(request.headers['cache-control'] ?? '');
    if (!bypass) {
      const hit = await this.cache.get(key);
      if (hit !== undefined) {
        this.metrics.cacheLookups.inc({ agent: agent.id, result: 'hit' });
        void reply.header('x-cache', 'HIT').type(JSON_TYPE);
        return of(hit);
      }
    }
    this.metrics.cacheLookups.inc({ agent: agent.id, result: bypass ? 'bypass' : 'miss' });
    // Every caller gets the JSON text just stored, like a hit.
    void reply.header('x-cache', 'MISS').type(JSON_TYPE);
    const load = async () => this.cache.set(key, await lastValueFrom(next.handle()), agent.cache.ttl_ms);
    return from(bypass ? load() : this.cache.coalesce(key, load));
  }
}
