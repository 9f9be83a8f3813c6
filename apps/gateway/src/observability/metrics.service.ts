import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Usage } from '@app/contracts';
import type { BreakerState } from '../agent/target-breaker';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Every metric the gateway exports, in its own registry (tests build several apps per process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly agentCallDuration = new Histogram({
    name: 'gateway_agent_call_duration_seconds',
    help: 'Agent calls (each attempt) by agent, target, method and gRPC outcome',
    labelNames: ['agent', 'target', 'method', 'code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly agentTokens = new Counter({
    name: 'gateway_agent_tokens_total',
    help: 'Tokens agents reported in their usage, by agent and kind (prompt, completion); cache hits spend none',
    labelNames: ['agent', 'kind'] as const,
    registers: [this.registry],
  });

  readonly breakerState = new Gauge({
    name: 'gateway_circuit_breaker_state',
    help: 'Circuit breaker per agent target: 0 closed, 1 half-open, 2 open',
    labelNames: ['agent', 'target'] as const,
    registers: [this.registry],
  });

  readonly agentCancelsPending = new Gauge({
    name: 'gateway_agent_cancels_pending',
    help: 'Agent calls waiting for their cancel to be sent (cancels are paced per target)',
    labelNames: ['agent', 'target'] as const,
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: 'gateway_cache_lookups_total',
    help: 'Answer cache lookups by result',
    labelNames: ['agent', 'result'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'gateway_rate_limited_total',
    help: 'Requests refused by a rate limit',
    labelNames: ['limit', 'transport'] as const,
    registers: [this.registry],
  });

  private countActiveStreams: () => number = () => 0;

  readonly activeStreams: Gauge = new Gauge({
    name: 'gateway_active_streams',
    help: 'Runs (streamed answers) this replica is driving',
    registers: [this.registry],
    collect: (): void => this.activeStreams.set(this.countActiveStreams()),
  });

  readonly webSockets = new Gauge({
    name: 'gateway_websocket_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_' });
  }

  /** The gauge is read at scrape time from whoever knows the count. */
  countStreamsWith(count: () => number): void {
    this.countActiveStreams = count;
  }

  /** The tokens an agent's answer says it used (usage is optional in the contract). */
  countTokens(agent: string, usage: Usage | null | undefined): void {
    if (!usage) return;
    if (usage.prompt_tokens > 0) this.agentTokens.inc({ agent, kind: 'prompt' }, usage.prompt_tokens);
    if (usage.completion_tokens > 0) this.agentTokens.inc({ agent, kind: 'completion' }, usage.completion_tokens);
  }

  setBreaker(agent: string, target: string, state: BreakerState): void {
    this.breakerState.set({ agent, target }, BREAKER_VALUE[state]);
  }
}
