import { credentials, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

/**
 * `node dist/scripts/grpc-health.js host:port`: exits 0 when the target serves grpc.health.v1
 * with SERVING, 1 otherwise. For container health checks of agents.
 */
const target = process.argv[2] ?? '127.0.0.1:50051';
const definition = loadSync(join(__dirname, '..', '..', 'proto', 'grpc', 'health', 'v1', 'health.proto'), {
  keepCase: true,
  enums: String,
});
const health = loadPackageDefinition(definition) as unknown as {
  grpc: { health: { v1: { Health: ServiceClientConstructor } } };
};
const client = new health.grpc.health.v1.Health(target, credentials.createInsecure()) as unknown as {
  Check(req: object, opts: object, cb: (e: Error | null, r?: { status: string }) => void): void;
};
client.Check({ service: '' }, { deadline: new Date(Date.now() + 2000) }, (error, response) => {
  process.stdout.write(`${error ? error.message : String(response?.status)}\n`);
  process.exit(!error && response?.status === 'SERVING' ? 0 : 1);
});
