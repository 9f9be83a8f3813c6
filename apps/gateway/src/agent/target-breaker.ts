import { status as GrpcStatus } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import type { AgentDefinition } from '../config/env.schema';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { isGrpcError } from './grpc-errors';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** gRPC outcomes that say the backend is in trouble; anything else (bad request, cancel) is not its fault. */
const BACKEND_FAILURES = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.DATA_LOSS,
  GrpcStatus.UNIMPLEMENTED,
]);

/** Backend failures: those gRPC outcomes, and a stream whose first chunk did not come in time (our deadline). */
export function isBackendFailure(error: unknown): boolean {
  if (error instanceof AppException) return error.code === ErrorCode.AGENT_TIMEOUT;
  return isGrpcError(error) && BACKEND_FAILURES.has(error.code);
}

export type StateListener = (agentId: string, target: string, state: BreakerState) => void;

/**
 * One opossum breaker per agent target, created once. It wraps whatever attempt it is given,
 * so the call itself (and its deadline, metadata, cancellation) stays with the caller.
 */
export class TargetBreaker {
  private static readonly logger = new Logger('CircuitBreaker');
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private openedAt = 0;

  constructor(
    readonly agentId: string,
    readonly target: string,
    private readonly config: AgentDefinition['breaker'],
    onStateChange?: StateListener,
  ) {
    this.breaker = new CircuitBreaker((attempt: () => Promise<unknown>) => attempt(), {
      timeout: false, // the gRPC deadline bounds each call
      errorThresholdPercentage: config.error_threshold_percentage,
      rollingCountTimeout: config.rolling_window_ms,
      rollingCountBuckets: 10,
      volumeThreshold: config.volume_threshold,
      resetTimeout: config.reset_timeout_ms,
      errorFilter: (error: unknown) => !isBackendFailure(error),
      // opossum re-reads its window on every failure, and with percentiles on that sorts the latency of
      // every call in it: O(n log n) per failure, 3 ms at 4,000 calls a second, just when an agent fails.
      // Latencies are measured by our metrics; the per-second snapshot events are unused too.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    const changed = (state: BreakerState) => () => {
      if (state === 'open') this.openedAt = Date.now();
      TargetBreaker.logger.warn({ agent: agentId, target, state }, `circuit ${state}`);
      onStateChange?.(agentId, target, state);
    };
    this.breaker.on('open', changed('open'));
    this.breaker.on('halfOpen', changed('half-open'));
    this.breaker.on('close', changed('closed'));
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    if (this.breaker.halfOpen) return 'half-open';
    return 'closed';
  }

  /** True when a call now would be refused without trying (open, or half-open with its probe out). */
  get refusing(): boolean {
    return !this.breaker.closed && !this.breaker.pendingClose;
  }

  /** Seconds until the breaker lets a probe through. */
  get retryAfterSeconds(): number {
    const remaining = this.openedAt + this.config.reset_timeout_ms - Date.now();
    return Math.max(1, Math.ceil(remaining / 1000));
  }

  /**
   * Refusals are answered here, not by opossum, which would build a new Error with a stack trace
   * for each: the largest share of a refused request's CPU. Its own check is the same condition.
   * Nor do they count as calls in its window (opossum counted them as fires), so after a recovery
   * the error rate is that of calls the agent really got.
   */
  fire<T>(attempt: () => Promise<T>): Promise<T> {
    if (this.refusing) return Promise.reject(OPEN_CIRCUIT);
    return this.breaker.fire(attempt) as Promise<T>;
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}

/** One shared refusal: it is only ever recognised (isOpenCircuitError) and translated, never shown. */
const OPEN_CIRCUIT = Object.assign(new Error('Breaker is open'), { code: 'EOPENBREAKER' });

export function isOpenCircuitError(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'EOPENBREAKER';
}
