// Helpers for recipe tests: paths and child processes (Python venv, the train script).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
export const RECIPE = path.join(ROOT, 'models/recipe');
export const PYTHON = path.join(RECIPE, '.venv/bin/python');

/** Creates/updates the recipe venv (idempotent, fast when already installed). */
export function ensureVenv(): void {
  run('bash', [path.join(RECIPE, 'setup_env.sh')]);
}

export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 600_000,
  });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status}${r.signal ? ` (${r.signal})` : ''}\n${r.stdout?.slice(-4000)}\n${r.stderr?.slice(-4000)}`,
    );
  return r.stdout;
}

/** The last line of output that parses as a JSON object. */
export function lastJson(out: string): Record<string, unknown> {
  const lines = out.trim().split('\n').reverse();
  for (const l of lines) {
    if (l.startsWith('{')) {
      try {
        return JSON.parse(l);
      } catch {
        // not JSON: keep looking
      }
    }
  }
  throw new Error(`no JSON line in output:\n${out.slice(-2000)}`);
}
