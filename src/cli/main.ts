// The `e2code` command line: the headless product. Each command lives in its own module under
// ./commands and registers itself on the program.
import { Command } from 'commander';
import { commands } from './commands';
import { VERSION } from '../core/version';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('e2code')
    .description('Ask questions about a whole codebase with a local E2LLM model.')
    .version(VERSION)
    .showHelpAfterError();
  for (const register of commands) register(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`e2code: ${message}\n`);
  if (process.env.E2CODE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});
