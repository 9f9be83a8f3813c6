import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { eventually } from './clients';
import { freePort } from './processes';

const PYTHON = process.env.TEST_PYTHON ?? '/usr/bin/python3';
const SERVER = join(__dirname, '..', '..', 'examples', 'python-agent', 'agent_server.py');

export interface PythonAgent {
  process: ChildProcess;
  target: string;
  output: () => string;
}

/** The example Python agent (grpcio from Debian) as its README runs it, with extra command-line options. */
export async function startPythonAgent(...options: string[]): Promise<PythonAgent> {
  const port = await freePort();
  const python = spawn(PYTHON, [SERVER, '--port', String(port), ...options], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  python.stdout.on('data', (c: Buffer) => (output += c.toString()));
  python.stderr.on('data', (c: Buffer) => (output += c.toString()));
  if (!(await eventually(() => output.includes('"listening"'), 15_000))) {
    python.kill('SIGKILL');
    throw new Error(`the Python agent did not start:\n${output}`);
  }
  return { process: python, target: `127.0.0.1:${port}`, output: () => output };
}

/** Runs Python code with the example agent's module importable; resolves with its exit code and output. */
export function runWithAgentModule(code: string): Promise<{ exitCode: number | null; output: string }> {
  const python = spawn(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(dirname(SERVER))})\n${code}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  python.stdout.on('data', (c: Buffer) => (output += c.toString()));
  python.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => python.once('close', (exitCode) => resolve({ exitCode, output })));
}
