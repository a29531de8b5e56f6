// `e2code summarize [dir]`: hierarchical summary (files, then directories, then the whole).
import type { Command } from 'commander';
import { addEngineOptions, relativeInside, resolveRoot, runTaskCommand, type EngineFlags } from '../engineCli';

export function registerSummarize(program: Command): void {
  addEngineOptions(
    program
      .command('summarize')
      .description('summarize a workspace or one of its directories')
      .argument('[dir]', 'workspace directory', '.')
      .option('--path <sub>', 'summarize only this directory or file inside the workspace'),
  ).action(async (dir: string, flags: EngineFlags & { path?: string }) => {
    const root = resolveRoot(dir);
    const scope = flags.path ? relativeInside(root, flags.path.startsWith('/') ? flags.path : `${root}/${flags.path}`) : '';
    await runTaskCommand(root, { task: 'summarize', prompt: '', scope }, flags);
  });
}
