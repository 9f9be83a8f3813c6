import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;

/**
 * A package.json script as npm runs it, with arguments after it as `npm run name -- …` passes them,
 * without its build step (the tests run on a build already); its standard output.
 */
export async function runNpmScript(name: string, env: Record<string, string>, ...args: string[]): Promise<string> {
  const command = scripts[name].replace(/^npm run build --silent && /, '');
  const { stdout } = await promisify(execFile)('sh', ['-c', `${command} "$@"`, name, ...args], {
    cwd: root,
    env: { ...process.env, ...env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
  });
  return stdout;
}
