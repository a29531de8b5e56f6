// `e2code generate <file> --line N <instruction>`: code for an instruction at a cursor, conditioned on
// the lines before the cursor and the whole workspace.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { addEngineOptions, relativeInside, resolveRoot, runTaskCommand, type EngineFlags } from '../engineCli';

/** Lines before the cursor given to the model as text. */
const PREFIX_LINES = 20;

export function registerGenerate(program: Command): void {
  addEngineOptions(
    program
      .command('generate')
      .description('generate code for an instruction at a position in a file')
      .argument('<file>', 'the file the code is for')
      .argument('<instruction...>', 'what to write')
      .option('--line <n>', 'cursor line, 1-based (default: end of file)')
      .option('--root <dir>', 'workspace root (default: the current directory)', '.'),
  ).action(async (file: string, instruction: string[], flags: EngineFlags & { line?: string; root: string }) => {
    const root = resolveRoot(flags.root);
    const rel = relativeInside(root, file);
    let lines: string[] = [];
    try {
      lines = readFileSync(path.join(root, rel), 'utf8').split('\n');
    } catch {
      // A new file: no code before the cursor.
    }
    const line = flags.line === undefined ? lines.length + 1 : Number(flags.line);
    if (!Number.isInteger(line) || line < 1) throw new Error(`--line must be a positive integer (got "${flags.line}")`);
    const before = lines.slice(Math.max(0, line - 1 - PREFIX_LINES), line - 1).join('\n');
    const prompt = instruction.join(' ').trim();
    if (!prompt) throw new Error('the instruction is empty');
    await runTaskCommand(root, { task: 'generate', prompt, selection: { path: rel, startLine: line, endLine: line, text: before } }, flags);
  });
}
