import { Metadata, connectivityState, status as GrpcStatus } from '@grpc/grpc-js';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { METADATA_REQUEST_ID, type QueryRequest, type QueryResponse, type Usage } from '@app/contracts';
import type { CancelSignal } from '../common/cancel-signal';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../observability/metrics.service';
import type { AgentDefinition } from '../config/env.schema';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { AgentTarget, type TargetHealth } from './agent-target';
import {
  StreamNotStartedError,
  ignore,
  runTargetStream,
  type StreamHandlers,
  type StreamResult,
  type StreamTimeouts,
} from './agent-stream';
import { Bulkhead } from './bulkhead';
import { appExceptionFromGrpc, isGrpcError } from './grpc-errors';
import { RetryBudget, backoffMs } from './retry-policy';
import { isOpenCircuitError, type BreakerState } from './target-breaker';

export type { TargetHealth } from './agent-target';

interface Backend {
  definition: AgentDefinition;
  targets: AgentTarget[];
  next: number;
  bulkhead: Bulkhead;
  retryBudget: RetryBudget;
}

/** Per-call context: who asked, under which request id, and a signal that cancels the call. */
export interface CallContext {
  userId: string;
  requestId: string;
  /** W3C trace context from the caller, continued into the agent call. */
  traceparent?: string;
  signal?: CancelSignal;
}

export type AgentState = 'ready' | 'connecting' | 'unavailable';

/** Time an attempt needs at least; a retry that could not get it is not tried. */
const MIN_ATTEMPT_MS = 20;

/**
 * The one wrapper around the agents. Per agent: a bulkhead bounding calls in flight, a retry
 * budget, and its targets (round robin), each with its own channel and circuit breaker.
 */
@Injectable()
export class AgentClient implements OnApplicationShutdown {
  private readonly logger = new Logger(AgentClient.name);
  private readonly backends = new Map<string, Backend>();

  constructor(
    config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    const listeners = {
      onBreakerChange: (agent: string, target: string, state: BreakerState) => metrics.setBreaker(agent, target, state),
      onCancelsPending: (agent: string, target: string, pending: number) =>
        metrics.agentCancelsPending.set({ agent, target }, pending),
    };
    for (const definition of config.agents) {
      this.backends.set(definition.id, {
        definition,
        targets: definition.targets.map((address) => {
          metrics.setBreaker(definition.id, address, 'closed');
          return new AgentTarget(definition.id, address, definition, listeners);
        }),
        next: 0,
        bulkhead: new Bulkhead(definition.id, definition.max_in_flight),
        retryBudget: new RetryBudget(definition.retry),
      });
    }
  }

  get agentIds(): string[] {
    return [...this.backends.keys()];
  }

  /** One answer, with retries and breakers as in withAttempts, inside the agent's deadline. */
  async query(agentId: string, request: QueryRequest, context: CallContext): Promise<QueryResponse> {
    const deadlineMs = this.backend(agentId).definition.deadline_ms;
    return this.withAttempts(agentId, context, deadlineMs, (target, deadline) =>
      target.breaker.fire(() =>
        this.timed(target, 'Query', () => unaryCall(target, request, context, new Date(deadline))),
      ),
    );
  }

  /**
   * A streamed answer. Chunks go to `onChunk` as they arrive; the promise settles with the final
   * sources and usage. Retried only before the first chunk, like a unary call; never after.
   */
  stream(
    agentId: string,
    request: QueryRequest,
    context: CallContext,
    timeouts: StreamTimeouts,
    handlers: StreamHandlers,
  ): Promise<StreamResult> {
    // Promise chains, not async functions: a stream holds them for its whole life, and each
    // suspended async function kept its frame (memory per open stream).
    return this.withAttempts(agentId, context, timeouts.firstChunkMs, (target) => {
      let running: { started: Promise<void>; finished: Promise<StreamResult> } | undefined;
      const started = target.breaker.fire(() => {
        running = runTargetStream(target, request, metadataFor(context), timeouts, handlers, context.signal);
        this.timed(target, 'StreamQuery', () => running!.finished).catch(ignore);
        return running.started;
      });
      // Past the first chunk a failure is final: translated here, so it is not retried.
      return started.then(() =>
        running!.finished.catch((error: unknown) => {
          throw this.translate(target, error instanceof StreamNotStartedError ? error.cause : error, context);
        }),
      );
    });
  }

  /**
   * Runs `call` on a target inside the agent's bulkhead, retrying on UNAVAILABLE (on another target
   * when there is one) with backoff and jitter, within `deadlineMs` and the retry budget; an open
   * breaker skips its target. Errors already turned into AppExceptions are final.
   */
  private async withAttempts<T>(
    agentId: string,
    context: CallContext,
    deadlineMs: number,
    call: (target: AgentTarget, deadline: number) => Promise<T>,
  ): Promise<T> {
    const backend = this.backend(agentId);
    const leave = backend.bulkhead.enter();
    try {
      backend.retryBudget.recordCall();
      const deadline = Date.now() + deadlineMs;
      // The targets tried so far; only made for a retry (most calls have none, and a stream holds it).
      let tried: AgentTarget[] | undefined;
      for (let attempt = 0; ; attempt++) {
        const target = this.pickTarget(backend, tried);
        try {
          return await call(target, deadline);
        } catch (error) {
          if (error instanceof AppException) throw error;
          const failure = this.translate(target, error, context);
          if (!this.shouldRetry(backend, error, attempt, deadline, context)) throw failure;
          const wait = isOpenCircuitError(error) ? 0 : backoffMs(backend.definition.retry, attempt);
          if (Date.now() + wait + MIN_ATTEMPT_MS > deadline) throw failure;
          (tried ??= []).push(target);
          if (wait > 0) await this.pause(wait, context.signal);
        }
      }
    } finally {
      leave();
    }
  }

  /** Connectivity as the channels see it, without starting connections. */
  state(agentId: string): AgentState {
    const states = this.backend(agentId).targets.map((t) => t.connectivity());
    if (states.includes(connectivityState.READY)) return 'ready';
    if (states.every((s) => s === connectivityState.TRANSIENT_FAILURE)) return 'unavailable';
    return 'connecting';
  }

  /** Asks every target of the agent over grpc.health.v1; each check is bounded by timeoutMs. */
  checkHealth(agentId: string, timeoutMs: number): Promise<TargetHealth[]> {
    return Promise.all(this.backend(agentId).targets.map((target) => target.checkHealth(timeoutMs)));
  }

  /** After the HTTP server has drained, so in-flight calls keep their channels to the end. */
  onApplicationShutdown(): void {
    for (const backend of this.backends.values()) for (const target of backend.targets) target.close();
  }

  /** Observes an attempt's duration under its gRPC outcome (OK, UNAVAILABLE, ...), and its tokens. */
  private timed<T extends { usage: Usage | null }>(
    target: AgentTarget,
    method: string,
    attempt: () => Promise<T>,
  ): Promise<T> {
    const stop = this.metrics.agentCallDuration.startTimer({ agent: target.agentId, target: target.address, method });
    return attempt().then(
      (result) => {
        stop({ code: 'OK' });
        this.metrics.countTokens(target.agentId, result.usage);
        return result;
      },
      (error: unknown) => {
        const cause = error instanceof StreamNotStartedError ? error.cause : error;
        stop({ code: isGrpcError(cause) ? GrpcStatus[cause.code] : 'LOCAL' });
        throw error;
      },
    );
  }

  /** Waits `ms` before a retry; a cancel ends the wait at once, rejecting with REQUEST_CANCELLED. */
  private pause(ms: number, signal?: CancelSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onCancel = () => {
        clearTimeout(timer);
        reject(cancelled());
      };
      const timer = setTimeout(() => {
        signal?.offCancel(onCancel);
        resolve();
      }, ms);
      signal?.onCancel(onCancel);
    });
  }

  assertKnown(agentId: string): void {
    this.backend(agentId);
  }

  private backend(agentId: string): Backend {
    const backend = this.backends.get(agentId);
    if (!backend) throw new AppException(ErrorCode.AGENT_NOT_FOUND, `unknown agent: ${agentId}`);
    return backend;
  }

  /** Round robin, preferring targets not tried yet for this call and whose breaker lets calls through. */
  private pickTarget(backend: Backend, tried?: readonly AgentTarget[]): AgentTarget {
    const n = backend.targets.length;
    let fallback: AgentTarget | undefined;
    for (let i = 0; i < n; i++) {
      const target = backend.targets[(backend.next + i) % n];
      if (tried?.includes(target)) continue;
      if (!target.breaker.refusing) {
        backend.next = (backend.next + i + 1) % n;
        return target;
      }
      fallback ??= target;
    }
    backend.next = (backend.next + 1) % n;
    return fallback ?? backend.targets[backend.next % n];
  }

  private shouldRetry(
    backend: Backend,
    error: unknown,
    attempt: number,
    deadline: number,
    context: CallContext,
  ): boolean {
    if (context.signal?.cancelled) return false;
    if (attempt + 1 >= backend.definition.retry.max_attempts && !isOpenCircuitError(error)) return false;
    if (isOpenCircuitError(error)) {
      // Another target may be closed: trying it costs the agent nothing, so no budget is spent.
      return attempt + 1 < backend.targets.length;
    }
    if (!isGrpcError(error) || error.code !== GrpcStatus.UNAVAILABLE) return false;
    if (Date.now() + MIN_ATTEMPT_MS > deadline) return false;
    return backend.retryBudget.tryAcquire();
  }

  private translate(target: AgentTarget, error: unknown, context: CallContext): unknown {
    if (isOpenCircuitError(error)) {
      return new AppException(
        ErrorCode.CIRCUIT_OPEN,
        `agent ${target.agentId} is failing; calls are paused`,
        target.breaker.retryAfterSeconds,
      );
    }
    if (!isGrpcError(error)) return error;
    const mapped = appExceptionFromGrpc(target.agentId, error);
    if (mapped.code === ErrorCode.AGENT_ERROR) {
      this.logger.warn(
        {
          request_id: context.requestId,
          agent: target.agentId,
          target: target.address,
          grpc_code: error.code,
          details: error.details,
        },
        'agent call failed',
      );
    }
    return mapped;
  }
}

function cancelled(): AppException {
  return new AppException(ErrorCode.REQUEST_CANCELLED, 'request cancelled');
}

/** One unary call that a cancel of its signal cancels (the agent sees CANCELLED), rejecting with REQUEST_CANCELLED. */
async function unaryCall(
  target: AgentTarget,
  request: QueryRequest,
  context: CallContext,
  deadline: Date,
): Promise<QueryResponse> {
  const { signal } = context;
  if (signal?.cancelled) throw cancelled();
  try {
    return await target.query(request, metadataFor(context), deadline, signal);
  } catch (error) {
    throw signal?.cancelled ? cancelled() : error;
  }
}

function metadataFor(context: CallContext): Metadata {
  const metadata = new Metadata();
  metadata.set(METADATA_REQUEST_ID, context.requestId);
  if (context.traceparent) metadata.set('traceparent', context.traceparent);
  return metadata;
}
