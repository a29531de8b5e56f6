// `e2code eval --repo <dir> [--repo <dir>...]`: evaluates a model bundle through the product's runtime on
// repositories held out from training: per task (where, what, summary, complete, reconstruct), the same questions
// with five contexts (none, truncated text, retrieved text, soft tokens, hybrid) and the same decoder.
// A table by default; --json prints the whole result. Progress goes to stderr; Ctrl-C cancels. A run that
// can build no question at all fails with the reason instead of printing a table of zeros.
import { InvalidArgumentError, type Command } from 'commander';
import { addEngineOptions, indexWithProgress, openEngine, resolveRoot, type EngineFlags } from '../engineCli';
import type { Engine } from '../../core/runtime/engine';
import { formatTable, loadRepository, runEval, SOURCE_LANGUAGES, type EvalResult } from '../../core/eval/run';
import { noQuestionsReason, TASKS, type EvalFile, type EvalTask } from '../../core/eval/questions';
import { formatGrounded, runGroundedEval } from '../../core/eval/grounded';

interface EvalFlags extends EngineFlags {
  repo?: string[];
  n: number;
  tasks: string;
  files: number;
  topk: number;
  seed: number;
  maxNewTokens: number;
  shuffleSoft?: boolean;
  grounded?: boolean;
}

function intAtLeast(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}, got '${value}'`);
    return n;
  };
}

export function parseTasks(spec: string): EvalTask[] {
  const tasks = spec
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of tasks)
    if (!(TASKS as readonly string[]).includes(t)) throw new Error(`--tasks: unknown task "${t}" (known: ${TASKS.join(', ')})`);
  if (tasks.length === 0) throw new Error('--tasks is empty');
  return [...new Set(tasks)] as EvalTask[];
}

/** The questions a result holds, all tasks together. */
export function questionCount(result: EvalResult): number {
  return Object.values(result.tasks).reduce((n, t) => n + (t?.n ?? 0), 0);
}

/** Why the repositories gave no question: their source files (loaded as the run loads them) and what else they hold. */
async function whyNoQuestions(engine: Engine, roots: string[], tasks: EvalTask[], signal: AbortSignal): Promise<string> {
  const files: EvalFile[] = [];
  const indexed: Record<string, number> = {};
  for (const root of roots) {
    const loaded = await loadRepository(engine, root, signal);
    files.push(...loaded.files);
    for (const rel of loaded.workspace.files()) {
      const language = loaded.workspace.chunksOf(rel)[0]?.language;
      if (language) indexed[language] = (indexed[language] ?? 0) + 1;
    }
  }
  return noQuestionsReason(files, tasks, {
    languages: SOURCE_LANGUAGES,
    indexed,
    softTokensPerChunk: engine.bundle.manifest.adapter.softTokensPerChunk,
  });
}

export function registerEval(program: Command): void {
  addEngineOptions(
    program
      .command('eval')
      .description(
        'evaluate the model bundle on held-out repositories through the product runtime (rows none/truncated/retrieved/soft/hybrid)',
      )
      .option(
        '--repo <dir>',
        'repository to ask about, held out from training (repeatable: each question is about one)',
        (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
      )
      .option('--json', 'print the full result as one JSON object')
      .option('--n <n>', 'questions per task', intAtLeast(1), 40)
      .option('--tasks <list>', 'comma-separated tasks', TASKS.join(','))
      .option('--files <n>', "files per question, the answer's included", intAtLeast(1), 4)
      .option('--topk <k>', 'chunks in the retrieved row', intAtLeast(1), 2)
      .option('--seed <n>', 'question sampling seed', intAtLeast(0), 0)
      .option('--max-new-tokens <n>', 'greedy answer length', intAtLeast(1), 24)
      .option(
        '--grounded',
        "measure the answers' sources instead: where-is and natural-language questions over whole repositories, rows lexical (BM25 alone), vector (the encoder alone), fused, grounded (what ask returns)",
      )
      .option(
        '--shuffle-soft',
        "control: give every chunk another chunk's soft tokens (order and headers unchanged) to see what the soft rows read from them",
      ),
    false,
  ).action(async (flags: EvalFlags) => {
    if (!flags.repo?.length) throw new Error("required option '--repo <dir>' not specified");
    const roots = [...new Set(flags.repo.map(resolveRoot))];
    const tasks = parseTasks(flags.tasks);
    const controller = new AbortController();
    const onSigint = () => controller.abort(new Error('cancelled'));
    process.once('SIGINT', onSigint);
    const tty = process.stderr.isTTY;
    const engine = await openEngine(flags);
    try {
      // Indexing is the product's (walk, chunk, encode what the soft-prompt cache lacks), with its progress.
      for (const root of roots) await indexWithProgress(engine, root, { json: flags.json }, controller.signal);
      if (flags.grounded) {
        const g = await runGroundedEval(engine, {
          roots,
          n: flags.n,
          seed: flags.seed,
          signal: controller.signal,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        if (Object.keys(g.kinds).length === 0) {
          const reason = await whyNoQuestions(engine, roots, ['where'], controller.signal);
          throw new Error(`no questions could be built from ${roots.join(', ')}: ${reason}`);
        }
        process.stdout.write(flags.json ? JSON.stringify(g, null, 1) + '\n' : formatGrounded(g));
        return;
      }
      let lastLine = 0;
      const result = await runEval(engine, {
        roots,
        tasks,
        n: flags.n,
        filesPerQuestion: flags.files,
        topk: flags.topk,
        seed: flags.seed,
        maxNewTokens: flags.maxNewTokens,
        shuffleSoft: flags.shuffleSoft,
        signal: controller.signal,
        log: (line) => process.stderr.write(`${line}\n`),
        onProgress: ({ task, done, total }) => {
          if (tty) {
            process.stderr.write(`\reval ${task}: ${done}/${total} questions   ${done === total ? '\n' : ''}`);
          } else if (done === total || Date.now() - lastLine > 10_000) {
            lastLine = Date.now();
            process.stderr.write(`eval ${task}: ${done}/${total} questions\n`);
          }
        },
      });
      if (questionCount(result) === 0) {
        const reason = await whyNoQuestions(engine, roots, tasks, controller.signal);
        throw new Error(`no questions could be built from ${roots.join(', ')}: ${reason}`);
      }
      process.stdout.write(flags.json ? JSON.stringify(result, null, 1) + '\n' : formatTable(result));
    } catch (err) {
      if (controller.signal.aborted) {
        process.stderr.write('\neval cancelled\n');
        process.exitCode = 130;
        return;
      }
      throw err;
    } finally {
      process.removeListener('SIGINT', onSigint);
      await engine.close();
    }
  });
}
