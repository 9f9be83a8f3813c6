import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import {
  AGENT_PROTO_PATH,
  METADATA_REQUEST_ID,
  PROTO_LOADER_OPTIONS,
  type BatchQueryRequest,
  type BatchQueryResponse,
  type HistoryRole,
  type QueryChunk,
  type QueryRequest,
  type QueryResponse,
} from '@app/contracts';
import { Bm25Index } from './bm25';
import { loadCorpus } from './corpus';
import { type BehaviourDefaults, failureFor, resolveBehaviour } from './behaviour';
import { RetrievalAgent, splitIntoTokens } from './retrieval-agent';

export interface ReferenceAgentOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  corpusDir: string;
  behaviour: BehaviourDefaults;
  /** Receives one entry per finished call (method, request id, outcome). */
  log?: (entry: CallLogEntry) => void;
}

export interface CallLogEntry {
  method: 'Query' | 'StreamQuery' | 'BatchQuery';
  request_id: string;
  /** ok, cancelled, or the gRPC status name the call failed with. */
  outcome: string;
  duration_ms: number;
  /** How many earlier messages the gateway sent with the request, and their roles in order. */
  history_messages: number;
  history_roles: HistoryRole[];
  /** The top-level keys of the session's context the gateway sent (its values stay out of the log). */
  context_keys: string[];
  traceparent: string;
}

export interface AgentStats {
  /** Calls being served now. */
  active: number;
  total: number;
  /** Calls that ended because the client cancelled them (or their deadline passed). */
  cancelled: number;
}

type GrpcFailure = Partial<grpc.StatusObject>;

/** The top-level keys of a session's context as the gateway sends it: a JSON object as text, empty outside one. */
function contextKeys(json: string | undefined): string[] {
  try {
    const context: unknown = JSON.parse(json || '{}');
    return context !== null && typeof context === 'object' ? Object.keys(context) : [];
  } catch {
    return [];
  }
}

const SERVICE_NAME = 'agent.AgentService';

function failure(code: keyof typeof grpc.status, details = `reference agent failed on request (${code})`): GrpcFailure {
  return { code: grpc.status[code], details };
}

/** Sleeps, but wakes early (returning false) when the call is cancelled. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return !signal.aborted;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function* repeated<T>(items: T[], times: number): Generator<T> {
  for (let i = 0; i < times; i++) yield* items;
}

export class ReferenceAgentServer {
  private readonly server = new grpc.Server();
  private readonly health = new HealthImplementation({ '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  private readonly agent: RetrievalAgent;
  private readonly counters: AgentStats = { active: 0, total: 0, cancelled: 0 };
  private boundPort = 0;

  constructor(private readonly options: ReferenceAgentOptions) {
    this.agent = new RetrievalAgent(new Bm25Index(loadCorpus(options.corpusDir)));
    const definition = protoLoader.loadSync(AGENT_PROTO_PATH, PROTO_LOADER_OPTIONS);
    const proto = grpc.loadPackageDefinition(definition) as unknown as {
      agent: { AgentService: grpc.ServiceClientConstructor };
    };
    this.server.addService(proto.agent.AgentService.service, {
      Query: this.query.bind(this),
      StreamQuery: (call: grpc.ServerWritableStream<QueryRequest, QueryChunk>) => void this.streamQuery(call),
      BatchQuery: (
        call: grpc.ServerUnaryCall<BatchQueryRequest, BatchQueryResponse>,
        callback: grpc.sendUnaryData<BatchQueryResponse>,
      ) => void this.batchQuery(call, callback),
    });
    this.health.addToServer(this.server);
  }

  get port(): number {
    return this.boundPort;
  }

  stats(): AgentStats {
    return { ...this.counters };
  }

  async start(): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(
        `${this.options.host}:${this.options.port}`,
        grpc.ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      ),
    );
    return this.boundPort;
  }

  /** Stops taking calls, lets running ones finish for up to graceMs, then cuts the rest. */
  async stop(graceMs = 5000): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(SERVICE_NAME, 'NOT_SERVING');
    const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const timer = setTimeout(() => this.server.forceShutdown(), graceMs);
    await graceful;
    clearTimeout(timer);
  }

  private track(
    method: CallLogEntry['method'],
    call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  ): { signal: AbortSignal; done: (outcome?: string) => void } {
    const started = Date.now();
    const requestId = String(call.metadata.get(METADATA_REQUEST_ID)[0] ?? '');
    const traceparent = String(call.metadata.get('traceparent')[0] ?? '');
    const request = call.request as Partial<QueryRequest> | undefined;
    const history = request?.history ?? [];
    const controller = new AbortController();
    this.counters.active += 1;
    this.counters.total += 1;
    const onCancel = () => {
      if (controller.signal.aborted) return;
      this.counters.cancelled += 1;
      controller.abort();
    };
    call.on('cancelled', onCancel);
    let finished = false;
    return {
      signal: controller.signal,
      done: (outcome = 'ok') => {
        if (finished) return;
        finished = true;
        call.off('cancelled', onCancel);
        this.counters.active -= 1;
        this.options.log?.({
          method,
          request_id: requestId,
          outcome: controller.signal.aborted ? 'cancelled' : outcome,
          duration_ms: Date.now() - started,
          history_messages: history.length,
          history_roles: history.map((m) => m.role),
          context_keys: contextKeys(request?.context_json),
          traceparent,
        });
      },
    };
  }

  private async answerOne(request: QueryRequest, signal: AbortSignal): Promise<QueryResponse | GrpcFailure> {
    const started = Date.now();
    const behaviour = resolveBehaviour(this.options.behaviour, request.options ?? {});
    if (!request.query?.trim()) return failure('INVALID_ARGUMENT', 'query must not be empty');
    if (!(await pause(behaviour.latencyMs, signal))) return failure('CANCELLED', 'cancelled');
    const failed = failureFor(behaviour);
    if (failed) return failure(failed);
    const { answer, sources, usage } = this.agent.answer(request.query, request.history);
    return { id: randomUUID(), answer, sources, usage, latency_ms: Date.now() - started };
  }

  private query(
    call: grpc.ServerUnaryCall<QueryRequest, QueryResponse>,
    callback: grpc.sendUnaryData<QueryResponse>,
  ): void {
    const { signal, done } = this.track('Query', call);
    void this.answerOne(call.request, signal).then((result) => {
      done('answer' in result ? 'ok' : grpc.status[result.code ?? grpc.status.UNKNOWN]);
      if ('answer' in result) callback(null, result);
      else callback(result);
    });
  }

  private async streamQuery(call: grpc.ServerWritableStream<QueryRequest, QueryChunk>): Promise<void> {
    const { signal, done } = this.track('StreamQuery', call);
    let outcome = 'ok';
    const fail = (error: GrpcFailure) => {
      outcome = grpc.status[error.code ?? grpc.status.UNKNOWN];
      call.emit('error', error);
    };
    try {
      const request = call.request;
      const behaviour = resolveBehaviour(this.options.behaviour, request.options ?? {});
      if (!request.query?.trim()) return fail(failure('INVALID_ARGUMENT', 'query must not be empty'));
      if (!(await pause(behaviour.latencyMs, signal))) return;
      const failed = failureFor(behaviour);
      if (failed) return fail(failure(failed));

      const id = randomUUID();
      const { answer, sources, usage } = this.agent.answer(request.query, request.history);
      const gapMs = behaviour.tokensPerSecond > 0 ? 1000 / behaviour.tokensPerSecond : 0;
      let sent = 0;
      for (const token of repeated(splitIntoTokens(answer), behaviour.repeat)) {
        if (behaviour.fail && behaviour.failAfterChunks !== undefined && sent >= behaviour.failAfterChunks) {
          return fail(failure(behaviour.fail, 'reference agent failed mid-stream'));
        }
        if (signal.aborted) return;
        // Respect backpressure: a slow reader pauses generation instead of growing a buffer. (Waiting with
        // the signal removes both listeners whichever comes first: racing two `once` left one per wait.)
        if (!call.write({ id, chunk: token, is_final: false, usage: null, sources: [] })) {
          if (
            !(await once(call, 'drain', { signal }).then(
              () => true,
              () => false,
            ))
          )
            return;
        }
        sent += 1;
        if (!(await pause(gapMs, signal))) return;
      }
      call.write({ id, chunk: '', is_final: true, usage, sources });
      call.end();
    } finally {
      done(outcome);
    }
  }

  private async batchQuery(
    call: grpc.ServerUnaryCall<BatchQueryRequest, BatchQueryResponse>,
    callback: grpc.sendUnaryData<BatchQueryResponse>,
  ): Promise<void> {
    const { signal, done } = this.track('BatchQuery', call);
    const results = await Promise.all(
      call.request.requests.map(async (request) => {
        const result = await this.answerOne(request, signal);
        return 'answer' in result
          ? { response: result, error: null }
          : { response: null, error: { code: result.code ?? grpc.status.UNKNOWN, message: result.details ?? '' } };
      }),
    );
    done();
    callback(null, { results });
  }
}
