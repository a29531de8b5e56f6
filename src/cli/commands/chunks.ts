// `e2code chunks <file-or-dir>`: the chunks the encoder would see, with their metadata, so anyone can
// check them (coverage: a file's [startByte, endByte) ranges tile it exactly). A directory is walked
// like the index walks it (ignore rules, binary/minified/oversized skips); paths are then relative to
// it. A single file keeps the path as given. With --json stdout is
// `{"chunks": [{path, language, startByte, endByte, startLine, endLine, kind, symbolPath, symbols, text, hash}], "skipped": [...]}`,
// written chunk by chunk so that large trees stream.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { RegisterCommand } from './index';
import { createChunker } from '../../core/chunker';
import type { Chunk } from '../../core/types';
import { walkFiles } from '../../core/walker';

interface ChunksOptions {
  json?: boolean;
  maxTokens?: number;
  exclude: string[];
  gitignore: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`must be a positive integer, got '${value}'`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** Writes to stdout, waiting when the pipe is full; a closed pipe (e.g. `| head`) ends output quietly. */
class Out {
  closed = false;
  constructor() {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
      else throw err;
    });
  }
  async write(s: string): Promise<void> {
    if (this.closed) return;
    if (!process.stdout.write(s)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}

function describe(c: Chunk): string {
  const sym = c.symbols.length ? ` [${c.symbols.join(', ')}]` : '';
  const where = c.symbolPath ? ` ${c.symbolPath}` : '';
  const firstLine = c.text.split('\n', 2)[1] ?? '';
  const preview = firstLine.trim().slice(0, 60);
  return `${c.path}:${c.startLine}-${c.endLine} ${c.kind}${where}${sym}  bytes ${c.startByte}-${c.endByte}\n    ${preview}\n`;
}

export const registerChunks: RegisterCommand = (program: Command) => {
  program
    .command('chunks')
    .description('Show the chunks of a file or directory (what the encoder sees) with their metadata.')
    .argument('<file-or-dir>', 'a file, or a directory to walk')
    .option('--json', 'print {"chunks": [...]} as JSON on stdout')
    .option('--max-tokens <n>', 'token budget per chunk (default 256, length estimate)', positiveInt)
    .option('-e, --exclude <glob>', 'exclude glob when walking a directory, gitignore syntax (repeatable)', collect, [])
    .option('--no-gitignore', 'do not honour .gitignore files when walking a directory')
    .action(async (target: string, opts: ChunksOptions) => {
      const chunker = await createChunker({ maxTokens: opts.maxTokens });
      const out = new Out();
      const st = await fsp.stat(target);
      let first = true;
      let files = 0;
      let chunks = 0;
      const skipped: { path: string; reason: string; detail?: string }[] = [];
      if (opts.json) await out.write('{"chunks": [');
      const emit = async (list: Chunk[]): Promise<void> => {
        files++;
        for (const c of list) {
          chunks++;
          if (opts.json) {
            await out.write(`${first ? '\n' : ',\n'}${JSON.stringify(c)}`);
            first = false;
          } else await out.write(describe(c));
          if (out.closed) return;
        }
      };
      if (st.isDirectory()) {
        for await (const item of walkFiles(target, { excludeGlobs: opts.exclude, useGitignore: opts.gitignore })) {
          if ('skip' in item) {
            skipped.push({ path: item.skip.path, reason: item.skip.reason, ...(item.skip.detail ? { detail: item.skip.detail } : {}) });
            continue;
          }
          await emit(await chunker.chunkFile(item.file.path, item.bytes));
          if (out.closed) return;
        }
      } else {
        const bytes = await fsp.readFile(target);
        await emit(await chunker.chunkFile(toPosix(path.normalize(target)), bytes));
      }
      if (opts.json) {
        await out.write(`${first ? '' : '\n'}], "skipped": ${JSON.stringify(skipped)}, "files": ${files}}\n`);
      } else {
        const bySkip = new Map<string, number>();
        for (const s of skipped) bySkip.set(s.reason, (bySkip.get(s.reason) ?? 0) + 1);
        const skipText = [...bySkip].map(([r, n]) => `${r} ${n}`).join(', ');
        await out.write(`${files} files, ${chunks} chunks${skipText ? `; skipped: ${skipText}` : ''}\n`);
      }
    });
};
