import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Options } from '@grpc/proto-loader';

/** Finds proto/agent.proto from wherever this file runs (sources under jest, dist/ when built). */
function findProtoPath(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'proto', 'agent.proto');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`proto/agent.proto not found above ${__dirname}`);
    dir = parent;
  }
}

export const AGENT_PROTO_PATH = findProtoPath();
export const AGENT_PACKAGE = 'agent';
export const AGENT_SERVICE = 'AgentService';

/** One loader configuration for both sides, so snake_case field names and number types agree. */
export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};
