// `e2code bench [names...]`: the project's benchmarks (bench/*.bench.ts) from a source checkout.
// The runner lives in bench/run.ts and needs tsx (a dev dependency), so this only works in a clone.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { packageRoot } from '../engineCli';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks (all, or those named) and write bench/results/ (source checkout only)')
    .argument('[names...]', 'benchmark names, e.g. ttft index chunk runtime')
    .action(async (names: string[]) => {
      const root = packageRoot();
      const runner = path.join(root, 'bench', 'run.ts');
      if (!existsSync(runner)) throw new Error(`no benchmarks here: ${runner} is missing (benchmarks run from a source checkout)`);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', runner, ...names], { cwd: root, stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
      });
      if (code !== 0) process.exitCode = code;
    });
}
