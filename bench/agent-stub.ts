import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { AGENT_PROTO_PATH, PROTO_LOADER_OPTIONS } from '@app/contracts';

/** A plain grpc-js client of the agent contract: what the benchmark's baselines call the agent with. */
export type AgentStub = grpc.Client & {
  Query(r: object, m: grpc.Metadata, o: object, cb: (e: grpc.ServiceError | null, r?: object) => void): void;
  StreamQuery(
    r: object,
    m: grpc.Metadata,
    o: object,
  ): grpc.ClientReadableStream<{ chunk?: string; is_final?: boolean }>;
};

export function connectAgent(address: string, options: grpc.ChannelOptions = {}): AgentStub {
  const def = protoLoader.loadSync(AGENT_PROTO_PATH, PROTO_LOADER_OPTIONS);
  const Service = (
    grpc.loadPackageDefinition(def) as unknown as { agent: { AgentService: grpc.ServiceClientConstructor } }
  ).agent.AgentService;
  return new Service(address, grpc.credentials.createInsecure(), options) as unknown as AgentStub;
}

/** One Query to the reference agent, with a 5-second deadline. */
export function queryAgent(agent: AgentStub, query: string, options: Record<string, string>): Promise<object> {
  return new Promise((resolve, reject) =>
    agent.Query(
      { agent_id: 'reference', query, options },
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error, response) => (error ? reject(error) : resolve(response!)),
    ),
  );
}
