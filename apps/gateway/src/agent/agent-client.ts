import {
  Metadata,
  connectivityState,
  credentials,
  makeClientConstructor,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientGrpc, type ClientGrpcProxy } from '@nestjs/microservices';
import type { Observable } from 'rxjs';
import {
  AGENT_PACKAGE,
  AGENT_PROTO_PATH,
  AGENT_SERVICE,
  METADATA_REQUEST_ID,
  PROTO_LOADER_OPTIONS,
  type QueryRequest,
  type QueryResponse,
} from '@app/contracts';
import { AppConfig } from '../config/app-config';
import type { AgentDefinition } from '../config/env.schema';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { appExceptionFromGrpc, isGrpcError } from './grpc-errors';

/** The agent service as Nest's ClientGrpc exposes it: (request, metadata, call options). */
interface AgentServiceClient {
  Query(request: QueryRequest, metadata: Metadata, options: { deadline: Date }): Observable<QueryResponse>;
}

interface HealthClient extends Client {
  Check(
    request: { service: string },
    options: { deadline: Date },
    callback: (error: ServiceError | null, response?: { status: string | number }) => void,
  ): void;
}

interface Target {
  address: string;
  proxy: ClientGrpcProxy;
  service: AgentServiceClient;
  channel: Client;
  health: HealthClient;
}

export interface TargetHealth {
  target: string;
  serving: boolean;
  detail: string;
}

const HealthClientConstructor = makeClientConstructor(
  healthServiceDefinition,
  'grpc.health.v1.Health',
) as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options: object,
) => HealthClient;

interface Backend {
  definition: AgentDefinition;
  targets: Target[];
  next: number;
}

/** Per-call context: who asked, under which request id, and a signal that cancels the call. */
export interface CallContext {
  userId: string;
  requestId: string;
  signal?: AbortSignal;
}

export type AgentState = 'ready' | 'connecting' | 'unavailable';

/** The one wrapper around the agents: owns their gRPC clients, picks targets, applies deadlines. */
@Injectable()
export class AgentClient implements OnModuleDestroy {
  private readonly logger = new Logger(AgentClient.name);
  private readonly backends = new Map<string, Backend>();

  constructor(config: AppConfig) {
    for (const definition of config.agents) {
      this.backends.set(definition.id, { definition, targets: definition.targets.map(connect), next: 0 });
    }
  }

  async query(agentId: string, request: QueryRequest, context: CallContext): Promise<QueryResponse> {
    const backend = this.backend(agentId);
    const target = this.pickTarget(backend);
    const call$ = target.service.Query(request, metadataFor(context), {
      deadline: new Date(Date.now() + backend.definition.deadline_ms),
    });
    try {
      return await firstValue(call$, context.signal);
    } catch (error) {
      throw this.translate(agentId, target, error);
    }
  }

  /** Connectivity as the channels see it, without starting connections. */
  state(agentId: string): AgentState {
    const states = this.backend(agentId).targets.map((t) => t.channel.getChannel().getConnectivityState(false));
    if (states.includes(connectivityState.READY)) return 'ready';
    if (states.every((s) => s === connectivityState.TRANSIENT_FAILURE)) return 'unavailable';
    return 'connecting';
  }

  /** Asks every target of the agent over grpc.health.v1; each check is bounded by timeoutMs. */
  checkHealth(agentId: string, timeoutMs: number): Promise<TargetHealth[]> {
    return Promise.all(this.backend(agentId).targets.map((target) => checkTarget(target, timeoutMs)));
  }

  get agentIds(): string[] {
    return [...this.backends.keys()];
  }

  onModuleDestroy(): void {
    for (const backend of this.backends.values()) for (const target of backend.targets) target.proxy.close();
  }

  private backend(agentId: string): Backend {
    const backend = this.backends.get(agentId);
    if (!backend) throw new AppException(ErrorCode.AGENT_NOT_FOUND, `unknown agent: ${agentId}`);
    return backend;
  }

  private pickTarget(backend: Backend): Target {
    const target = backend.targets[backend.next % backend.targets.length];
    backend.next = (backend.next + 1) % backend.targets.length;
    return target;
  }

  private translate(agentId: string, target: Target, error: unknown): unknown {
    if (!isGrpcError(error)) return error;
    const mapped = appExceptionFromGrpc(agentId, error);
    if (mapped.code === ErrorCode.AGENT_ERROR) {
      this.logger.warn(
        { agent: agentId, target: target.address, grpc_code: error.code, details: error.details },
        'agent call failed',
      );
    }
    return mapped;
  }
}

function connect(address: string): Target {
  const proxy = ClientProxyFactory.create({
    transport: Transport.GRPC,
    options: {
      url: address,
      package: AGENT_PACKAGE,
      protoPath: AGENT_PROTO_PATH,
      loader: PROTO_LOADER_OPTIONS,
      keepalive: { keepaliveTimeMs: 30_000, keepaliveTimeoutMs: 10_000, keepalivePermitWithoutCalls: 0 },
    },
  });
  const grpc = proxy as ClientGrpc;
  const channel = grpc.getClientByServiceName<Client>(AGENT_SERVICE);
  return {
    address,
    proxy,
    service: grpc.getService<AgentServiceClient>(AGENT_SERVICE),
    channel,
    // Health checks share the agent's channel: they test the connection calls really use.
    health: new HealthClientConstructor(address, credentials.createInsecure(), {
      channelOverride: channel.getChannel(),
    }),
  };
}

function checkTarget(target: Target, timeoutMs: number): Promise<TargetHealth> {
  return new Promise((resolve) => {
    target.health.Check({ service: '' }, { deadline: new Date(Date.now() + timeoutMs) }, (error, response) => {
      const status = response?.status;
      const serving = !error && (status === 'SERVING' || status === 1);
      resolve({ target: target.address, serving, detail: error ? error.details || error.message : String(status) });
    });
  });
}

/** Resolves with the call's answer; an abort unsubscribes, which cancels the gRPC call. */
function firstValue<T>(call$: Observable<T>, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancelled = () => new AppException(ErrorCode.REQUEST_CANCELLED, 'request cancelled');
    if (signal?.aborted) return reject(cancelled());
    const onAbort = () => {
      subscription.unsubscribe();
      reject(cancelled());
    };
    const subscription = call$.subscribe({
      next: (value) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      },
      error: (error: Error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function metadataFor(context: CallContext): Metadata {
  const metadata = new Metadata();
  metadata.set(METADATA_REQUEST_ID, context.requestId);
  return metadata;
}
