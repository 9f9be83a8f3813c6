import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loadDotEnv } from '../apps/gateway/src/config/dotenv';
import { defaultAgents } from '../apps/gateway/src/config/env.schema';

/**
 * `npm start`: the gateway on its embedded defaults. Unless AGENTS points at your own agents,
 * the reference agent is started beside it on 127.0.0.1:50051.
 */
const dist = join(__dirname, '..');
const children: ChildProcess[] = [];

function run(name: string, script: string): ChildProcess {
  const child = spawn(process.execPath, [join(dist, script)], { stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`${name} exited (${signal ?? code}); stopping\n`);
    stop(typeof code === 'number' && code !== 0 ? code : 1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(exitCode: number): void {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  let pending = children.filter((c) => c.exitCode === null).length;
  if (pending === 0) process.exit(exitCode);
  for (const child of children) {
    child.once('exit', () => {
      pending -= 1;
      if (pending === 0) process.exit(exitCode);
    });
  }
}

loadDotEnv();
if (!process.env.AGENTS) {
  const agentPort = process.env.AGENT_PORT ?? '50051';
  process.env.AGENT_PORT = agentPort;
  process.env.AGENTS = defaultAgents(agentPort);
  run('reference agent', 'apps/reference-agent/src/main.js');
}
run('gateway', 'apps/gateway/src/main.js');
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));
