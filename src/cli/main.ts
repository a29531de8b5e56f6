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

let settled = false;
main(process.argv).then(
  () => {
    settled = true;
  },
  (err: unknown) => {
    settled = true;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`e2code: ${message}\n`);
    if (process.env.E2CODE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);

// The event loop ran empty while the command was still waiting: something it awaited can never finish
// (a native callback that never came). Without this the process would end with code 0 and no answer.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write('e2code: stopped before finishing: an operation it was waiting for can never complete (no result was given)\n');
  process.exitCode = 1;
});
