// `e2code index <dir>`: brings the workspace index of <dir> up to date and reports what changed.
// Progress goes to stderr (one live line on a TTY, a line every few seconds otherwise); the summary
// (or with --json the machine-readable result) goes to stdout.
import { InvalidArgumentError, type Command } from 'commander';
import type { RegisterCommand } from './index';
import { WorkspaceIndex } from '../../core/index/index';
import { createChunker } from '../../core/chunker';
import { readSizing } from '../../core/runtime/workspace/sizing';
import { defaultBundlePath } from '../engineCli';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got '${value}'`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface IndexCmdOptions {
  json?: boolean;
  exclude: string[];
  maxFileBytes?: number;
  bundle?: string;
  store?: string;
  gitignore: boolean;
  listSkipped?: boolean;
}

export const registerIndex: RegisterCommand = (program: Command) => {
  program
    .command('index')
    .description('Index a workspace: walk, chunk and record what changed since the last run.')
    .argument('<dir>', 'workspace root')
    .option('--json', 'print the result as JSON on stdout')
    .option('-e, --exclude <glob>', 'exclude glob, gitignore syntax (repeatable)', collect, [])
    .option('--max-file-bytes <n>', 'skip files larger than this (default 1048576)', positiveInt('--max-file-bytes'))
    .option('--bundle <dir>', 'model bundle whose encoder sizes the chunks (default: the bundled models/default); no model is loaded')
    .option('--store <dir>', 'index store directory (default: $XDG_CACHE_HOME/e2code/workspaces/<id>)')
    .option('--no-gitignore', 'do not honour .gitignore files (.e2codeignore still applies)')
    .option('--list-skipped', 'also list every skipped path with its reason')
    .action(async (dir: string, opts: IndexCmdOptions) => {
      // Chunked exactly as `ask` chunks (the bundle's encoder length and tokenizer), so both keep one index.
      const sizing = readSizing(opts.bundle ?? defaultBundlePath());
      const index = await WorkspaceIndex.open({
        root: dir,
        storeDir: opts.store,
        excludeGlobs: opts.exclude,
        maxFileBytes: opts.maxFileBytes,
        chunkTokens: sizing.chunkTokens,
        tokenizerId: sizing.tokenizerId,
        chunker: await createChunker({ maxTokens: sizing.chunkTokens, countTokens: sizing.countTokens }),
        useGitignore: opts.gitignore,
        // Notes as they are made, during the refresh too (e.g. the disk fills up mid-run).
        onNote: (note) => process.stderr.write(`e2code: ${note}\n`),
      });

      const tty = process.stderr.isTTY === true;
      let lastLine = 0;
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await index.refresh({
          signal: controller.signal,
          onProgress: (p) => {
            const now = Date.now();
            const final = p.total > 0 && p.done === p.total;
            if (!final && now - lastLine < (tty ? 100 : 5000)) return;
            lastLine = now;
            const pct = p.total ? ` ${Math.floor((100 * p.done) / p.total)}%` : '';
            const line = `index ${p.done}/${p.total}${pct} ${p.message ?? ''}`;
            if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 80) - 1)}`);
            else process.stderr.write(`${line}\n`);
          },
        });
        if (tty) process.stderr.write('\r\x1b[K');
        const summary = {
          files: r.files,
          chunks: r.chunks,
          skipped: r.skipped,
          bytes: r.bytes,
          seconds: Math.round(r.seconds * 1000) / 1000,
          added: r.added.length,
          removed: r.removed.length,
          updated: r.updated.length,
          unchanged: r.unchanged.length,
          newChunks: r.newChunkHashes.length,
          removedChunks: r.removedChunkHashes.length,
          // No store to name when the index could not be written: never a path that may not exist.
          store: index.inMemory ? null : index.storeDir,
          ...(index.inMemory ? { inMemory: index.inMemory } : {}),
          ...(index.loadReport.status === 'rebuilt' ? { rebuilt: index.loadReport.notes } : {}),
          ...(opts.listSkipped ? { skips: r.skips } : {}),
        };
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } else {
          const skipped = Object.entries(r.skipped)
            .map(([reason, n]) => `${reason} ${n}`)
            .join(', ');
          const mb = (r.bytes / 1024 / 1024).toFixed(1);
          process.stdout.write(
            `${r.files} files, ${r.chunks} chunks, ${mb} MB in ${summary.seconds} s\n` +
              `added ${summary.added}, updated ${summary.updated}, removed ${summary.removed}, unchanged ${summary.unchanged}; ` +
              `${summary.newChunks} new chunks to encode\n` +
              `skipped: ${skipped || 'none'}\n` +
              `store: ${index.inMemory ? 'none (kept in memory this run)' : index.storeDir}\n`,
          );
          if (opts.listSkipped) {
            for (const s of r.skips) process.stdout.write(`  ${s.reason}\t${s.path}${s.detail ? `\t(${s.detail})` : ''}\n`);
          }
        }
      } catch (err) {
        if (tty) process.stderr.write('\r\x1b[K');
        if (controller.signal.aborted) {
          process.stderr.write('e2code: indexing cancelled; what was indexed so far is kept\n');
          process.exitCode = 130;
          return;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
        await index.close();
      }
    });
};
