import {
  Metadata,
  connectivityState,
  credentials,
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { ClientProxyFactory, Transport, type ClientGrpc, type ClientGrpcProxy } from '@nestjs/microservices';
import {
  AGENT_PACKAGE,
  AGENT_PROTO_PATH,
  AGENT_SERVICE,
  PROTO_LOADER_OPTIONS,
  type QueryChunk,
  type QueryRequest,
  type QueryResponse,
} from '@app/contracts';
import type { CancelSignal } from '../common/cancel-signal';
import { StacklessError, withoutStackTrace } from '../common/without-stack-trace';
import type { AgentDefinition } from '../config/env.schema';
import { CancelPacer } from './cancel-pacer';
import { HealthClient } from './health-client';
import { TargetBreaker, type StateListener } from './target-breaker';

/** The raw grpc-js stub behind Nest's ClientGrpc: callbacks and call objects, no Observables. */
interface AgentStub {
  Query(
    request: QueryRequest,
    metadata: Metadata,
    options: { deadline: Date },
    callback: (error: ServiceError | null, response?: QueryResponse) => void,
  ): ClientUnaryCall;
  StreamQuery(request: QueryRequest, metadata: Metadata, options: { deadline: Date }): ClientReadableStream<QueryChunk>;
}

/** How a cancelled call rejects: the caller, which cancelled it, answers for it. */
const CALL_CANCELLED = new StacklessError('call cancelled');

export interface TargetHealth {
  target: string;
  serving: boolean;
  detail: string;
}

export interface TargetListeners {
  onBreakerChange?: StateListener;
  onCancelsPending?: (agentId: string, target: string, pending: number) => void;
}

/** One gRPC endpoint of an agent: its channel, service stub, health client, breaker and cancel pacer. */
export class AgentTarget {
  readonly breaker: TargetBreaker;
  /** Every cancel of a call on this target goes through it. */
  readonly cancels: CancelPacer;
  private readonly proxy: ClientGrpcProxy;
  private readonly channel: Client;
  private readonly health: HealthClient;

  constructor(
    readonly agentId: string,
    readonly address: string,
    definition: Pick<AgentDefinition, 'breaker' | 'cancel_pacing'>,
    listeners: TargetListeners = {},
  ) {
    this.proxy = ClientProxyFactory.create({
      transport: Transport.GRPC,
      options: {
        url: address,
        package: AGENT_PACKAGE,
        protoPath: AGENT_PROTO_PATH,
        loader: PROTO_LOADER_OPTIONS,
        keepalive: { keepaliveTimeMs: 30_000, keepaliveTimeoutMs: 10_000, keepalivePermitWithoutCalls: 0 },
        channelOptions: {
          // Reconnect soon after an agent restarts (grpc-js would back off up to two minutes).
          'grpc.initial_reconnect_backoff_ms': 250,
          'grpc.max_reconnect_backoff_ms': 2000,
          // A connection of its own: grpc-js would share one between agents served at the same address,
          // and their cancels together could pass the server's rapid-reset limit each pacer keeps to.
          'grpc.use_local_subchannel_pool': 1,
        },
      },
    });
    const grpc = this.proxy as ClientGrpc;
    this.channel = grpc.getClientByServiceName<Client>(AGENT_SERVICE);
    // Health checks share the agent's channel: they test the connection calls really use.
    this.health = new HealthClient(address, credentials.createInsecure(), {
      channelOverride: this.channel.getChannel(),
    });
    this.breaker = new TargetBreaker(agentId, address, definition.breaker, listeners.onBreakerChange);
    this.cancels = new CancelPacer(definition.cancel_pacing, (pending) =>
      listeners.onCancelsPending?.(agentId, address, pending),
    );
  }

  /**
   * One unary call on the raw stub (the Observable form cost a measurable share of a request).
   * A cancel rejects at once (with CALL_CANCELLED); the cancel itself goes through the pacer.
   */
  query(request: QueryRequest, metadata: Metadata, deadline: Date, signal?: CancelSignal): Promise<QueryResponse> {
    return new Promise((resolve, reject) => {
      const onCancel = () => {
        this.cancels.cancel(call);
        reject(CALL_CANCELLED);
      };
      const call = withoutStackTrace(() =>
        this.stub.Query(request, metadata, { deadline }, (error, response) => {
          signal?.offCancel(onCancel);
          if (error) reject(error);
          else resolve(response!);
        }),
      );
      signal?.onCancel(onCancel);
    });
  }

  /** A raw server stream: unlike the Observable form it can be cancelled directly, through the pacer. */
  streamQuery(request: QueryRequest, metadata: Metadata, deadline: Date): ClientReadableStream<QueryChunk> {
    return withoutStackTrace(() => this.stub.StreamQuery(request, metadata, { deadline }));
  }

  private get stub(): AgentStub {
    return this.channel as unknown as AgentStub;
  }

  connectivity(): connectivityState {
    return this.channel.getChannel().getConnectivityState(false);
  }

  checkHealth(timeoutMs: number): Promise<TargetHealth> {
    return new Promise((resolve) => {
      this.health.Check({ service: '' }, { deadline: new Date(Date.now() + timeoutMs) }, (error, response) => {
        const status = response?.status;
        const serving = !error && (status === 'SERVING' || status === 1);
        resolve({ target: this.address, serving, detail: error ? error.details || error.message : String(status) });
      });
    });
  }

  close(): void {
    this.cancels.flush();
    this.breaker.shutdown();
    this.proxy.close();
  }
}
