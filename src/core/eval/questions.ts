// The evaluation's questions, built from a repository the way the recipe builds its instruction data
// (models/recipe/data.py make_question / build_example, as eval.py calls them): the same phrasings, the
// same answers, the same filters (unambiguous names of 3+ characters, no dunder names), the same
// files-per-question sampling and position budget. Deterministic for a seed (a seeded PRNG, not
// Python's: the questions are the recipe's kind, not its exact draw).
import type { Chunk } from '../types';
import type { Def } from '../facts';

/** A chunk with its code (file bytes startByte..endByte, what a text chunk shows). */
export type EvalChunk = Chunk & { code: string };

export interface EvalFile {
  /** The repository (its root) the file belongs to: a question's files all come from one. */
  repo: string;
  path: string;
  language: string;
  /** The file's text. */
  content: string;
  chunks: EvalChunk[];
  defs: Def[];
  moduleDoc: string;
}

export const QA_TASKS = ['where', 'what', 'summary', 'complete'] as const;
export const TASKS = [...QA_TASKS, 'reconstruct'] as const;
export type EvalTask = (typeof TASKS)[number];

export interface EvalQuestion {
  task: EvalTask;
  /** The repository the question is about. */
  repo: string;
  request: string;
  answer: string;
  /** The question's files, each with all its chunks (reconstruct: the one chunk), in prompt order. */
  files: { path: string; chunks: EvalChunk[] }[];
  /** The file holding the answer. */
  file: string;
  /** where/what: the definition asked about. */
  def?: Def;
  /** where/what: the chunk holding that definition (hybrid places it as text). */
  defChunk?: EvalChunk;
}

export interface QuestionOptions {
  n: number;
  /** Files per question, the answer's included (eval.py --files). */
  filesPerQuestion: number;
  softTokensPerChunk: number;
  /** Position budget the files are sampled for (eval.py: 512). */
  maxPositions?: number;
  seed: number;
}

/** The recipe's "Repeat the code." target length in tokens (stages/align.py). */
export const RECONSTRUCT_TOKENS = 48;
export const RECONSTRUCT_REQUEST = 'Repeat the code.';

/** mulberry32 over a seed mixed with the task name: each task's questions do not depend on the others. */
export class Rng {
  private state: number;

  constructor(seed: number, salt = '') {
    let h = 0x811c9dc5; // FNV-1a of `seed:salt`
    for (const ch of `${seed}:${salt}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    this.state = h >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  choice<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** k distinct items in random order (Python's random.sample semantics). */
  sample<T>(xs: readonly T[], k: number): T[] {
    const pool = [...xs];
    const out: T[] = [];
    for (let i = 0; i < Math.min(k, pool.length); i++) {
      const j = i + this.int(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
      out.push(pool[i]);
    }
    return out;
  }
}

/** data.py good_name: 3+ characters, not a dunder name. */
export function goodName(name: string): boolean {
  return name.length >= 3 && !(name.startsWith('__') && name.endsWith('__'));
}

/** data.py def_chunk: the first chunk whose line range holds the definition's line. */
export function defChunk(file: EvalFile, def: Def): EvalChunk | undefined {
  return file.chunks.find((c) => c.startLine <= def.line && def.line <= c.endLine);
}

/** data.py make_question (with_line=False: "where" answers are the path alone). */
export function makeQuestion(rng: Rng, files: EvalFile[], task: EvalTask): Omit<EvalQuestion, 'files' | 'repo'> | undefined {
  const all = files.flatMap((f) => f.defs.filter((d) => goodName(d.name)).map((d) => ({ f, d })));
  const count = new Map<string, number>();
  for (const { d } of all) count.set(d.name, (count.get(d.name) ?? 0) + 1);
  const unique = all.filter(({ d }) => count.get(d.name) === 1); // unambiguous questions only
  if (task === 'where' && unique.length > 0) {
    const { f, d } = rng.choice(unique);
    return { task, request: `Where is ${d.name} defined?`, answer: f.path, file: f.path, def: d, defChunk: defChunk(f, d) };
  }
  if (task === 'what') {
    const cands = unique.filter(({ d }) => d.doc);
    if (cands.length > 0) {
      const { f, d } = rng.choice(cands);
      return { task, request: `What does ${d.name} do?`, answer: d.doc, file: f.path, def: d, defChunk: defChunk(f, d) };
    }
  }
  if (task === 'summary') {
    const cands = files.filter((f) => f.moduleDoc);
    if (cands.length > 0) {
      const f = rng.choice(cands);
      return { task, request: `Summarize ${f.path}.`, answer: f.moduleDoc, file: f.path };
    }
  }
  if (task === 'complete') {
    const f = rng.choice(files);
    const lines = f.content.split('\n');
    const idx: number[] = [];
    for (let i = 3; i < lines.length; i++) if (lines[i].trim().length > 8) idx.push(i);
    if (idx.length > 0) {
      const i = rng.choice(idx);
      const prefix = lines.slice(Math.max(0, i - 3), i).join('\n');
      return { task, request: `In ${f.path}, what line follows:\n${prefix}`, answer: lines[i].trim(), file: f.path };
    }
  }
  return undefined;
}

/**
 * Up to `n` distinct questions of a task (fewer when the repositories have no more: e.g. no module docs).
 * QA tasks: data.py build_example with eval.py's settings (max_positions 512, no relabelling, no text
 * chunks): a repository drawn at random (eval.py draws one per question among the held-out ones), then
 * `filesPerQuestion` of its files among those whose soft tokens fit in half the budget, dropped from the
 * end past the budget, then a question about them. Reconstruct: one random chunk of any repository.
 */
export function buildQuestions(files: readonly EvalFile[], task: EvalTask, o: QuestionOptions): EvalQuestion[] {
  const rng = new Rng(o.seed, task);
  const withChunks = files.filter((f) => f.chunks.length > 0);
  if (task === 'reconstruct') {
    const items = withChunks.flatMap((f) => f.chunks.map((c) => ({ f, c })));
    return rng.sample(items, o.n).map(({ f, c }) => ({
      task,
      repo: f.repo,
      request: RECONSTRUCT_REQUEST,
      answer: c.code,
      files: [{ path: f.path, chunks: [c] }],
      file: f.path,
    }));
  }
  const maxPositions = o.maxPositions ?? 512;
  const soft = o.softTokensPerChunk;
  const pools = new Map<string, EvalFile[]>();
  for (const f of withChunks) {
    if (f.chunks.length * soft > Math.floor(maxPositions / 2)) continue;
    const pool = pools.get(f.repo);
    if (pool) pool.push(f);
    else pools.set(f.repo, [f]);
  }
  const repos = [...pools.keys()];
  const out: EvalQuestion[] = [];
  const seen = new Set<string>();
  if (repos.length === 0) return out;
  const budget = maxPositions - 96; // room for the question
  for (let attempt = 0; out.length < o.n && attempt < 50 * o.n + 200; attempt++) {
    const repo = repos.length === 1 ? repos[0] : rng.choice(repos);
    const drawn = rng.sample(pools.get(repo)!, o.filesPerQuestion);
    const kept: EvalFile[] = [];
    let used = 0;
    for (const f of drawn) {
      const cost = 8 + f.chunks.length * soft;
      if (used + cost > budget && kept.length > 0) continue;
      kept.push(f);
      used += cost;
    }
    const q = makeQuestion(rng, kept, task);
    if (!q) continue;
    const key = `${repo}\u0000${q.request}\u0000${q.answer}`;
    if (seen.has(key)) continue; // a small repository would otherwise repeat its few questions
    seen.add(key);
    out.push({ ...q, repo, files: kept.map((f) => ({ path: f.path, chunks: f.chunks })) });
  }
  return out;
}

export interface NoQuestionContext {
  /** The languages the questions' files were drawn from (the eval's source languages). */
  languages: Iterable<string>;
  /** Every indexed file of the repositories by language (source or not): what they hold instead. */
  indexed: Readonly<Record<string, number>>;
  softTokensPerChunk: number;
  /** Position budget the files are sampled for (as buildQuestions' option). */
  maxPositions?: number;
}

/** "go 3, ruby 1": counts by language, most first. */
function countsText(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([lang, n]) => `${lang} ${n}`)
    .join(', ');
}

function sourceFiles(xs: readonly EvalFile[]): string {
  const counts: Record<string, number> = {};
  for (const f of xs) counts[f.language] = (counts[f.language] ?? 0) + 1;
  return `${xs.length} source file${xs.length === 1 ? '' : 's'} (${countsText(counts)})`;
}

/**
 * Why none of `tasks` has a question in these files, in plain words (for the error `e2code eval` exits
 * with): no source file at all, every file too long for a question's context, or per task what the
 * files lack (definitions, doc comments, file doc comments).
 */
export function noQuestionsReason(files: readonly EvalFile[], tasks: readonly EvalTask[], o: NoQuestionContext): string {
  const languages = [...o.languages].join(', ');
  if (files.length === 0) {
    const total = Object.values(o.indexed).reduce((n, x) => n + x, 0);
    if (total === 0) return `it has no indexed files (questions are built from ${languages} files)`;
    return `none of its ${total} indexed file${total === 1 ? '' : 's'} (${countsText(o.indexed)}) is in a language questions are built for (${languages})`;
  }
  const maxChunks = Math.floor((o.maxPositions ?? 512) / 2 / o.softTokensPerChunk);
  const onlyReconstruct = tasks.every((t) => t === 'reconstruct');
  const fit = files.filter((f) => f.chunks.length > 0 && (onlyReconstruct || f.chunks.length <= maxChunks));
  if (fit.length === 0)
    return `its ${sourceFiles(files)} are all too long for a question (a question's context holds at most ${maxChunks} chunk${maxChunks === 1 ? '' : 's'} of a file)`;
  const reasons = new Set<string>();
  for (const task of tasks) {
    if (task === 'where' || task === 'what') {
      const defs = fit.flatMap((f) => f.defs.filter((d) => goodName(d.name)));
      if (defs.length === 0) reasons.add(`no definitions with a name of 3+ characters found in ${sourceFiles(fit)}`);
      else if (task === 'what' && !defs.some((d) => d.doc)) reasons.add(`no definitions with doc comments found in ${sourceFiles(fit)}`);
      else reasons.add(`no definition with a name found once among a question's files in ${sourceFiles(fit)}`);
    } else if (task === 'summary') {
      if (!fit.some((f) => f.moduleDoc))
        reasons.add(`no file doc comments (module docstring, package comment, file-top comment) found in ${sourceFiles(fit)}`);
    } else if (task === 'complete') {
      if (!fit.some((f) => f.content.split('\n').length > 4)) reasons.add(`no file of more than 4 lines in ${sourceFiles(fit)}`);
    }
  }
  return reasons.size > 0 ? [...reasons].join('; ') : `no question could be drawn from ${sourceFiles(fit)}`;
}
