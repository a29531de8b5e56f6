// `e2code explain <file> [--lines a-b] [question]`: explains a file or a line range of it, with the
// rest of the workspace as context.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { addEngineOptions, parseLines, relativeInside, resolveRoot, runTaskCommand, type EngineFlags } from '../engineCli';

export function registerExplain(program: Command): void {
  addEngineOptions(
    program
      .command('explain')
      .description('explain a file or a range of its lines in the context of the workspace')
      .argument('<file>', 'the file')
      .argument('[question...]', 'what to explain (default: what the code does)')
      .option('--lines <a-b>', 'line range, e.g. 10-30 (default: the whole file)')
      .option('--root <dir>', 'workspace root (default: the current directory)', '.'),
  ).action(async (file: string, question: string[], flags: EngineFlags & { lines?: string; root: string }) => {
    const root = resolveRoot(flags.root);
    const rel = relativeInside(root, file);
    let content: string;
    try {
      content = readFileSync(path.join(root, rel), 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as Error).message}`);
    }
    const lines = content.split('\n');
    const range = flags.lines ? parseLines(flags.lines) : { startLine: 1, endLine: lines.length };
    if (range.startLine > lines.length) throw new Error(`${file} has ${lines.length} lines; --lines ${flags.lines} starts after its end`);
    const endLine = Math.min(range.endLine, lines.length);
    const text = lines.slice(range.startLine - 1, endLine).join('\n');
    await runTaskCommand(
      root,
      { task: 'explain', prompt: question.join(' '), selection: { path: rel, startLine: range.startLine, endLine, text } },
      flags,
    );
  });
}
