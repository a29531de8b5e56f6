// `e2code ask <dir> <question>`: indexes the workspace if needed, then answers with the bundled model.
import type { Command } from 'commander';
import { addEngineOptions, resolveRoot, runTaskCommand, type EngineFlags } from '../engineCli';

export function registerAsk(program: Command): void {
  addEngineOptions(
    program
      .command('ask')
      .description('ask a question about a workspace (indexes it first if needed)')
      .argument('<dir>', 'workspace directory')
      .argument('<question...>', 'the question'),
  ).action(async (dir: string, question: string[], flags: EngineFlags) => {
    const prompt = question.join(' ').trim();
    if (!prompt) throw new Error('the question is empty');
    await runTaskCommand(resolveRoot(dir), { task: 'ask', prompt }, flags);
  });
}
