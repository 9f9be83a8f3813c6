import type { ClientReadableStream, Metadata } from '@grpc/grpc-js';
import type { QueryChunk, QueryRequest, Source, Usage } from '@app/contracts';
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

/** Raised before the first chunk: the only point where a stream may be retried elsewhere. */
export class StreamNotStartedError extends Error {
  constructor(override readonly cause: unknown) {
    super('stream failed before its first chunk');
  }
}

/**
 * Runs one StreamQuery call on one target. The first-chunk and idle deadlines are ours (a gRPC
 * deadline only bounds the whole call); an abort cancels the call, which the agent sees.
 */
export function runTargetStream(
  target: AgentTarget,
  request: QueryRequest,
  metadata: Metadata,
  timeouts: StreamTimeouts,
  handlers: StreamHandlers,
  signal: AbortSignal | undefined,
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
  let timer: NodeJS.Timeout | undefined;
  let localFailure: AppException | undefined;

  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      localFailure = new AppException(ErrorCode.AGENT_TIMEOUT, `agent ${target.agentId} ${what}`);
      call.cancel();
    }, ms);
  };
  arm(timeouts.firstChunkMs, `sent nothing in ${timeouts.firstChunkMs} ms`);
  const onAbort = () => {
    localFailure = new AppException(ErrorCode.REQUEST_CANCELLED, 'stream cancelled');
    call.cancel();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  let markStarted: () => void = () => undefined;
  let failStart: (e: unknown) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    markStarted = resolve;
    failStart = reject;
  });

  const finished = new Promise<StreamResult>((resolve, reject) => {
    call.on('data', (chunk: QueryChunk) => {
      if (!gotFirst) {
        gotFirst = true;
        markStarted();
      }
      arm(timeouts.idleMs, `went silent for ${timeouts.idleMs} ms`);
      if (chunk.chunk) {
        answer += chunk.chunk;
        handlers.onChunk(chunk.chunk);
      }
      if (chunk.is_final) {
        sources = chunk.sources ?? [];
        usage = chunk.usage ?? null;
      }
    });
    call.on('error', (error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const failure = localFailure ?? error;
      if (!gotFirst) {
        failStart(failure);
        reject(new StreamNotStartedError(failure));
      } else {
        reject(failure);
      }
    });
    call.on('end', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      markStarted();
      resolve({ answer, sources, usage });
    });
  });
  // Either promise may be left unobserved by the caller; neither should be reported as unhandled.
  started.catch(() => undefined);
  finished.catch(() => undefined);
  return { started, finished };
}
