// Shared plumbing of the model-using CLI commands (ask, explain, summarize, generate, doctor). The CLI
// runs the engine in-process: one short-lived command has no editor to protect, and skipping the
// sidecar's process start and JSON-RPC hop makes it simpler and faster. The extension uses the sidecar.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { Engine } from '../core/runtime/engine';
import { cacheLocation } from '../core/runtime/cache/location';
import { maxThreads } from '../core/runtime/model/threads';
import type { Device, GenerateParams, GenerateResult } from '../core/protocol';

export interface EngineFlags {
  bundle?: string;
  device: Device;
  threads?: number;
  cacheDir?: string;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  hybrid: boolean;
  contextBudget?: number;
  json?: boolean;
  seed?: number;
}

/** The package root (holds package.json and models/), found from this file whether bundled or not. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'e2code') return dir;
      } catch {
        // keep looking upwards
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the e2code package root above ${__dirname}`);
    dir = up;
  }
}

export function defaultBundlePath(): string {
  return process.env.E2CODE_BUNDLE || path.join(packageRoot(), 'models', 'default');
}

/** A parser for a numeric flag; `max` (a number or computed when the flag is parsed) bounds it from above. */
function number(name: string, integer: boolean, min: number, max?: number | (() => number), why = '') {
  return (value: string): number => {
    const n = Number(value);
    const top = typeof max === 'function' ? max() : max;
    if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || (top !== undefined && n > top)) {
      const range = top !== undefined ? `from ${min} to ${top}${why}` : `>= ${min}`;
      throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} ${range} (got "${value}")`);
    }
    return n;
  };
}

/** Flags that choose and run the model. */
export function addEngineOptions(cmd: Command, withGeneration = true): Command {
  cmd
    .option('--bundle <dir>', 'model bundle directory (default: the bundled models/default)')
    .addOption(new Option('--device <device>', 'execution provider').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .option(
      '--threads <n>',
      'onnxruntime intra-op threads, at most the logical cores (0 = its default)',
      number('--threads', true, 0, maxThreads, ', the logical cores of this machine'),
    )
    // The default is described, not computed: --help must not depend on a home directory.
    .option(
      '--cache-dir <dir>',
      'soft-prompt cache directory (default $E2CODE_CACHE_DIR, else $XDG_CACHE_HOME/e2code, else ~/.cache/e2code)',
    );
  if (withGeneration) {
    cmd
      .option('--temperature <t>', 'sampling temperature; 0 = greedy', number('--temperature', false, 0), 0)
      .option('--top-p <p>', 'nucleus sampling mass', number('--top-p', false, 0))
      .option('--max-tokens <n>', 'most tokens to generate', number('--max-tokens', true, 1))
      .option('--seed <n>', 'sampler seed (reproducible sampling)', number('--seed', true, 0))
      .option('--no-hybrid', 'soft tokens only: no exact-match chunks as raw text')
      .option(
        '--context-budget <n>',
        "most decoder positions for repository context (default: the bundle's trained context size; 0: none)",
        number('--context-budget', true, 0),
      )
      .option('--json', 'print one JSON object instead of streaming');
  }
  return cmd;
}

/** A progress line is open on stderr (written with \r, no newline yet): a log line ends it first. */
let progressOpen = false;

function endProgress(): void {
  if (progressOpen) process.stderr.write('\n');
  progressOpen = false;
}

export async function openEngine(flags: EngineFlags): Promise<Engine> {
  const log = (line: string) => {
    endProgress();
    process.stderr.write(`${line}\n`);
  };
  const location = flags.cacheDir ? { dir: path.resolve(flags.cacheDir) } : cacheLocation();
  const engine = await Engine.create({
    bundlePath: path.resolve(flags.bundle ?? defaultBundlePath()),
    device: flags.device,
    threads: flags.threads,
    cacheDir: location.dir,
    log,
  });
  // Said once the cache is open, so the directory it names exists.
  if (location.note) log(`e2code: ${location.note}`);
  return engine;
}

export function resolveRoot(dir: string): string {
  const root = path.resolve(dir);
  if (!existsSync(root)) throw new Error(`workspace ${dir} does not exist`);
  return root;
}

/** Indexes `root` with progress on stderr (when it is a terminal, or always unless --json). */
export async function indexWithProgress(engine: Engine, root: string, flags: { json?: boolean }, signal?: AbortSignal): Promise<void> {
  const show = !flags.json || process.stderr.isTTY;
  // On a terminal one line is rewritten in place; to a file or pipe, a line every few seconds.
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const result = await engine.index(root, {
    signal,
    onProgress: (p) => {
      if (!show || p.phase !== 'encode' || p.total === 0) return;
      const now = Date.now();
      if (now - last < (tty ? 250 : 5000) && p.done < p.total) return;
      last = now;
      const rate = p.perSecond ? `, ${p.perSecond.toFixed(1)} chunks/s` : '';
      const line = `encoding ${p.done}/${p.total} chunks${rate}`;
      if (tty) {
        process.stderr.write(`\r${line}   `);
        progressOpen = true;
      } else process.stderr.write(`${line}\n`);
    },
  });
  if (show) {
    endProgress();
    process.stderr.write(
      `indexed ${result.files} files, ${result.chunks} chunks (${result.encoded} encoded, ${result.cached} cached) in ${result.seconds.toFixed(2)} s\n`,
    );
  }
}

/** Runs one task: streams the answer to stdout, or prints the --json object. Ctrl-C stops decoding. */
export async function runTaskCommand(
  root: string,
  params: Omit<GenerateParams, 'root' | 'options'>,
  flags: EngineFlags,
): Promise<GenerateResult> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const engine = await openEngine(flags);
  try {
    await indexWithProgress(engine, root, flags, controller.signal);
    const streamed: string[] = [];
    const result = await engine.generate(
      {
        ...params,
        root,
        options: {
          temperature: flags.temperature,
          topP: flags.topP,
          maxTokens: flags.maxTokens,
          hybrid: flags.hybrid,
          ...(flags.contextBudget !== undefined ? { contextBudget: flags.contextBudget } : {}),
        },
      },
      {
        signal: controller.signal,
        seed: flags.seed,
        onToken: flags.json
          ? undefined
          : (text) => {
              streamed.push(text);
              process.stdout.write(text);
            },
      },
    );
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          answer: result.answer,
          origin: result.origin,
          ...(result.notice ? { notice: result.notice } : {}),
          citations: result.citations,
          sources: result.sources,
          timings: result.timings,
          context: result.context,
        }) + '\n',
      );
    } else {
      if (streamed.length > 0) process.stdout.write('\n');
      if (result.notice) process.stderr.write(`e2code: ${result.notice}\n`);
      if (result.sources.length > 0) {
        process.stderr.write(result.origin === 'index' ? 'sources (from the index):\n' : 'sources:\n');
        for (const s of result.sources) {
          process.stderr.write(`  ${path.join(root, s.path)}:${s.line}${s.symbol ? `  ${s.symbol}` : ''}\n`);
        }
      }
      const t = result.timings;
      const c = result.context;
      process.stderr.write(
        c.decoderRuns === 0
          ? `[answered from the index; no model run]\n`
          : `[${result.stopReason}; first token ${t.firstTokenMs.toFixed(0)} ms, ${t.tokensPerSecond.toFixed(1)} tokens/s; context ${c.positions} positions, ` +
              `${c.softChunks} chunks as soft tokens, ${c.textChunks} as text; ${c.decoderRuns} model run${c.decoderRuns === 1 ? '' : 's'}]\n`,
      );
    }
    // No answer (nothing matched, a task the model cannot do, cancelled): a non-zero exit, as grep does.
    if (!result.answer || result.notice || result.stopReason === 'cancelled') process.exitCode = 1;
    return result;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await engine.close();
  }
}

/** Parses `12` or `12-20` into a 1-based inclusive range. */
export function parseLines(spec: string): { startLine: number; endLine: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
  if (!m) throw new Error(`--lines must look like 12 or 12-20 (got "${spec}")`);
  const startLine = Number(m[1]);
  const endLine = m[2] ? Number(m[2]) : startLine;
  if (startLine < 1 || endLine < startLine) throw new Error(`--lines ${spec}: need 1 <= start <= end`);
  return { startLine, endLine };
}

/** A workspace-relative path of `file`, refusing files outside the workspace. */
export function relativeInside(root: string, file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${file} is outside the workspace ${root} (set --root)`);
  return rel.split(path.sep).join('/');
}
