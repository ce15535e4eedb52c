// Runs one of scripts/*.ts as an operator would: a child process with only the configuration given (none
// inherited from the test process), its output captured.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { environmentSchema } from '../../src/config/config.js';

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<ScriptResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(environmentSchema.shape)) delete childEnv[name];
  Object.assign(childEnv, env);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', '@swc-node/register/esm-register', `scripts/${script}`, ...args],
      { cwd: repositoryRoot, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
