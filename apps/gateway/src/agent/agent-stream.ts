import type { ClientReadableStream, Metadata } from '@grpc/grpc-js';
import type { QueryChunk, QueryRequest, Source, Usage } from '@app/contracts';
import type { CancelSignal } from '../common/cancel-signal';
import { StacklessError } from '../common/without-stack-trace';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import type { AgentTarget } from './agent-target';

export interface StreamTimeouts {
  firstChunkMs: number;
  idleMs: number;
  maxDurationMs: number;
}

export interface StreamHandlers {
  onChunk: (text: string) => void;
}

/** `started` settles at the first chunk (or a clean end), rejecting with the raw error if the call failed first. */
export interface StreamResult {
  answer: string;
  sources: Source[];
  usage: Usage | null;
}

/** One shared no-op handler: an inline `() => undefined` is a new function, held by every open stream. */
export const ignore = (): undefined => undefined;

/**
 * Raised before the first chunk: the only point where a stream may be retried elsewhere. A wrapper
 * (its cause is what is translated and logged), so it captures no stack.
 */
export class StreamNotStartedError extends StacklessError {
  constructor(override readonly cause: unknown) {
    super('stream failed before its first chunk');
  }
}

/**
 * Runs one StreamQuery call on one target. The first-chunk and idle deadlines are ours (a gRPC
 * deadline only bounds the whole call); a cancel of `signal` cancels the call, which the agent sees. A local
 * cancel settles the run at once; the cancel itself goes through the target's pacer, and until it
 * goes out the call's chunks are still read, and dropped.
 */
export function runTargetStream(
  target: AgentTarget,
  request: QueryRequest,
  metadata: Metadata,
  timeouts: StreamTimeouts,
  handlers: StreamHandlers,
  signal: CancelSignal | undefined,
): { started: Promise<void>; finished: Promise<StreamResult> } {
  const call: ClientReadableStream<QueryChunk> = target.streamQuery(
    request,
    metadata,
    new Date(Date.now() + timeouts.maxDurationMs),
  );
  let answer = '';
  let sources: Source[] = [];
  let usage: Usage | null = null;
  let gotFirst = false;
  let settled = false;
  let timer: NodeJS.Timeout | undefined;

  let markStarted: () => void = () => undefined;
  let failStart: (e: unknown) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    markStarted = resolve;
    failStart = reject;
  });
  let succeed: (result: StreamResult) => void = () => undefined;
  let failFinished: (e: unknown) => void = () => undefined;
  const finished = new Promise<StreamResult>((resolve, reject) => {
    succeed = resolve;
    failFinished = reject;
  });

  const settle = (failure?: unknown) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    signal?.offCancel(onCancel);
    if (failure === undefined) {
      markStarted();
      succeed({ answer, sources, usage });
    } else if (!gotFirst) {
      failStart(failure);
      failFinished(new StreamNotStartedError(failure));
    } else {
      failFinished(failure);
    }
  };
  const cancelLocally = (failure: AppException) => {
    if (settled) return;
    // The call may wait for its turn to be cancelled, still read: it must not keep this run (its
    // handlers, the answer so far) alive meanwhile, so listeners that hold nothing replace ours.
    call.removeAllListeners();
    call.on('data', ignore).on('error', ignore);
    target.cancels.cancel(call);
    settle(failure);
  };
  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(
      () => cancelLocally(new AppException(ErrorCode.AGENT_TIMEOUT, `agent ${target.agentId} ${what}`)),
      ms,
    );
  };
  const onCancel = () => cancelLocally(new AppException(ErrorCode.REQUEST_CANCELLED, 'stream cancelled'));

  arm(timeouts.firstChunkMs, `sent nothing in ${timeouts.firstChunkMs} ms`);
  signal?.onCancel(onCancel);
  call.on('data', (chunk: QueryChunk) => {
    if (settled) return;
    if (!gotFirst) {
      gotFirst = true;
      markStarted();
      arm(timeouts.idleMs, `went silent for ${timeouts.idleMs} ms`);
    } else {
      timer!.refresh(); // the idle deadline starts again; cheaper than a new timer per chunk
    }
    if (chunk.chunk) {
      answer += chunk.chunk;
      handlers.onChunk(chunk.chunk);
    }
    if (chunk.is_final) {
      sources = chunk.sources ?? [];
      usage = chunk.usage ?? null;
    }
  });
  call.on('error', (error) => settle(error));
  call.on('end', () => settle());
  // Either promise may be left unobserved by the caller; neither should be reported as unhandled.
  started.catch(ignore);
  finished.catch(ignore);
  return { started, finished };
}
