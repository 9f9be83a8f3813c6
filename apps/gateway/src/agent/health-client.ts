import {
  credentials,
  makeClientConstructor,
  type Client,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';

/** A grpc.health.v1 client (statuses as names: 'SERVING', 'NOT_SERVING', ...). */
export interface HealthClient extends Client {
  Check(
    request: { service: string },
    options: { deadline: Date },
    callback: (error: ServiceError | null, response?: { status: string | number }) => void,
  ): void;
  Watch(request: { service: string }): ClientReadableStream<{ status: string | number }>;
}

export const HealthClient = makeClientConstructor(healthServiceDefinition, 'grpc.health.v1.Health') as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options: object,
) => HealthClient;
