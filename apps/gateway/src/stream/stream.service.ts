import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AgentClient } from '../agent/agent-client';
import type { QueryInput } from '../agent/agent.dto';
import type { StreamResult, StreamTimeouts } from '../agent/agent-stream';
import { toAgentRequest } from '../agent/agent-request';
import { AppConfig } from '../config/app-config';
import { CancelSignal } from '../common/cancel-signal';
import { logIfUnexpected, mapError } from '../errors/all-exceptions.filter';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { ConversationService, type Turn } from '../session/conversation.service';
import { Run } from './run';
import { RunMirror } from './run-mirror';
import { RunRegistry } from './run-registry';
import { StreamQuota } from './stream-quota';

export interface StreamCaller {
  userId: string;
  requestId: string;
  traceparent?: string;
}

/** What a failed run's ending needs; made only when the run fails. */
interface Failure {
  error: unknown;
  turn: Turn | undefined;
  partial: string;
  cancelCode: ErrorCode | undefined;
  started: number;
  requestId: string;
}

/** Starts runs (an agent stream feeding a Run), finds them for resuming, cancels them. */
@Injectable()
export class StreamService {
  private readonly logger = new Logger(StreamService.name);
  /** The same for every stream: one object, not one per open stream. */
  private readonly timeouts: StreamTimeouts;

  constructor(
    private readonly agents: AgentClient,
    private readonly conversations: ConversationService,
    private readonly registry: RunRegistry,
    private readonly quota: StreamQuota,
    private readonly mirror: RunMirror,
    private readonly config: AppConfig,
  ) {
    const { firstChunkTimeoutMs, idleTimeoutMs, maxDurationMs } = config.stream;
    this.timeouts = { firstChunkMs: firstChunkTimeoutMs, idleMs: idleTimeoutMs, maxDurationMs };
  }

  /** Checks everything that can be refused up front (unknown agent, session, limits), then starts. */
  async start(input: QueryInput, caller: StreamCaller): Promise<Run> {
    this.agents.assertKnown(input.agent_id);
    const run = new Run(randomUUID(), caller.userId, input.agent_id, input.session_id ?? null);
    // Before the session is written to: a refused stream leaves no turn behind.
    await this.quota.acquire(caller.userId, run.id);
    let turn: Turn | undefined;
    try {
      turn = input.session_id
        ? await this.conversations.begin(caller.userId, input.session_id, input.agent_id, input.query, caller.requestId)
        : undefined;
    } catch (error) {
      this.quota.release(caller.userId, run.id);
      throw error;
    }
    this.registry.add(run); // which gives the slot back when the run finishes
    run.push('start', { agent_id: input.agent_id, session_id: run.sessionId });
    this.drive(run, input, caller, turn);
    return run;
  }

  /** A run to resume: this replica's, or (with Redis) one driven by another replica. */
  async find(runId: string, userId: string, signal: CancelSignal): Promise<Run> {
    const run = this.registry.findOwned(runId, userId) ?? (await this.mirror.follow(runId, userId, signal));
    if (!run) throw new AppException(ErrorCode.RUN_NOT_FOUND, `no run ${runId} to resume (it may have expired)`);
    return run;
  }

  async cancel(runId: string, userId: string): Promise<void> {
    const local = this.registry.findOwned(runId, userId);
    if (local) return local.cancel(ErrorCode.REQUEST_CANCELLED);
    if (!(await this.mirror.isOwnedBy(runId, userId)))
      throw new AppException(ErrorCode.RUN_NOT_FOUND, `no run ${runId}`);
    await this.mirror.requestCancel(runId, ErrorCode.REQUEST_CANCELLED);
  }

  /**
   * Runs the agent call that feeds `run`, then records the turn. A promise chain, not an async
   * function: every open stream holds it, and a suspended async function kept its frame.
   */
  private drive(run: Run, input: QueryInput, caller: StreamCaller, turn: Turn | undefined): void {
    const started = performance.now();
    const signal = new CancelSignal();
    let cancelCode: ErrorCode | undefined;
    run.cancel = (code) => {
      cancelCode ??= code as ErrorCode;
      signal.cancel();
    };
    let partial = '';
    const { requestId } = caller; // what the ending needs of the caller, not the whole object
    this.agents
      .stream(
        input.agent_id,
        toAgentRequest(input, requestId, turn),
        { userId: caller.userId, requestId, traceparent: caller.traceparent, signal },
        this.timeouts,
        {
          onChunk: (text) => {
            partial += text;
            if (run.bytes > this.config.stream.maxRunBytes) return run.cancel(ErrorCode.RUN_TOO_LARGE);
            run.push('chunk', { seq: run.events.length, text });
          },
        },
      )
      // The one promise an open stream holds here: what its end runs is chained only then.
      .then(
        (result) =>
          this.finishedAfter(
            run,
            this.succeed(run, turn, result, Math.round(performance.now() - started)).catch((error: unknown) =>
              this.fail(run, { error, turn, partial, cancelCode, started, requestId }),
            ),
          ),
        (error: unknown) =>
          this.finishedAfter(run, this.fail(run, { error, turn, partial, cancelCode, started, requestId })),
      );
  }

  private async succeed(run: Run, turn: Turn | undefined, result: StreamResult, latency_ms: number): Promise<void> {
    if (turn) {
      await this.conversations.complete(turn, {
        answer: result.answer,
        sources: result.sources,
        usage: result.usage,
        latencyMs: latency_ms,
        agentResponseId: run.id,
      });
    }
    run.push('done', { answer: result.answer, sources: result.sources, usage: result.usage, latency_ms });
  }

  /**
   * Ends the run with an error event (why it was cancelled, if it was), recording the partial turn.
   * A fault of ours is logged with its cause: the client sees only "internal error".
   */
  private async fail(run: Run, { error, turn, partial, cancelCode, started, requestId }: Failure): Promise<void> {
    const mapped = mapError(error).body;
    const code = cancelCode ?? mapped.code;
    const message = cancelCode ? cancelMessage(cancelCode) : mapped.message;
    logIfUnexpected(this.logger, code, error, { request_id: requestId, run_id: run.id });
    if (turn) {
      const latency = Math.round(performance.now() - started);
      await this.conversations.fail(turn, partial, code, latency).catch((storeError: unknown) => {
        // The client still gets its error event; the lost record is logged, as for a unary query.
        this.logger.error(
          { err: storeError, request_id: requestId, run_id: run.id, session_id: turn.sessionId },
          'could not record a failed turn',
        );
      });
    }
    run.push('error', { code, message });
  }

  /**
   * Tells the run's registry it is over once `ending` (its last event, its turn recorded) has settled.
   * Should the ending itself fail (a bug), the run still ends with an error event, so no reader waits
   * for one forever, and the failure is logged: left unhandled, it would stop the process and every
   * other stream with it.
   */
  private finishedAfter(run: Run, ending: Promise<void>): Promise<void> {
    return ending
      .finally(() => {
        run.push('error', { code: ErrorCode.INTERNAL, message: 'internal error' }); // no-op once it has ended
        run.emit('finished');
      })
      .catch((error: unknown) => this.logger.error({ err: error, run_id: run.id }, 'a stream did not end cleanly'));
  }
}

function cancelMessage(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.CLIENT_GONE:
      return 'no client came back within the resume window';
    case ErrorCode.SHUTTING_DOWN:
      return 'the gateway is shutting down';
    case ErrorCode.RUN_TOO_LARGE:
      return 'the answer grew past the gateway limit';
    default:
      return 'stream cancelled';
  }
}
