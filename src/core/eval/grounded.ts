// The product's own retrieval, measured on whole repositories: does an answer's first source point at the
// definition a question is about? Two kinds of question, built from tree-sitter facts:
//   where    "Where is NAME defined?"                       hit: the top source is NAME's file and line
//   natural  "Where is the code that <its doc's sentence>?" hit: NAME's file among the top 3 sources
// Rows: lexical (BM25 alone), vector (the encoder's ranking alone), fused (both, reciprocal rank fusion,
// with exact definitions), and grounded (what `ask` returns: its sources, the decoder's pick included).
// Lexical/vector/fused rank chunks; a chunk "points at" the definition when it is in its file and holds its line.
import type { Engine } from '../runtime/engine';
import { rankChunks, type RetrievalMode } from '../runtime/plan/retrieve';
import { loadRepository } from './run';
import { Rng } from './questions';
import type { Def } from '../facts';
import { mean, pairedDifference } from './metrics';

export const GROUNDED_ROWS = ['lexical', 'vector', 'fused', 'grounded'] as const;
export type GroundedRow = (typeof GROUNDED_ROWS)[number];
export type GroundedKind = 'where' | 'natural';

export interface GroundedQuestion {
  kind: GroundedKind;
  repo: string;
  request: string;
  path: string;
  line: number;
  name: string;
}

export interface GroundedRowResult {
  /** where: top-1 exact file and line; natural: file among the top 3. */
  hit: number;
  /** The file alone at the top. */
  file_top1: number;
  file_top3: number;
}

export interface GroundedResult {
  repos: string[];
  seed: number;
  kinds: Partial<
    Record<
      GroundedKind,
      { n: number; rows: Record<GroundedRow, GroundedRowResult>; fused_vs_vector: { diff: number; ci95: [number, number] } }
    >
  >;
  wall_s: number;
}

/** Definitions with unambiguous names (defined once in their repository), 4+ characters, not dunders. */
export function groundedQuestions(
  files: { repo: string; path: string; defs: Def[] }[],
  kind: GroundedKind,
  n: number,
  seed: number,
): GroundedQuestion[] {
  const count = new Map<string, number>();
  for (const f of files) for (const d of f.defs) count.set(`${f.repo}\u0000${d.name}`, (count.get(`${f.repo}\u0000${d.name}`) ?? 0) + 1);
  const pool: GroundedQuestion[] = [];
  for (const f of files) {
    for (const d of f.defs) {
      if (count.get(`${f.repo}\u0000${d.name}`) !== 1 || d.name.length < 4 || d.name.startsWith('__')) continue;
      if (kind === 'where')
        pool.push({ kind, repo: f.repo, request: `Where is ${d.name} defined?`, path: f.path, line: d.line, name: d.name });
      else {
        // Go and Ruby docs open with the name ("ParseFlags parses ..."): the question keeps what follows.
        let doc = d.doc.replace(/\s+/g, ' ').trim().replace(/[.:]$/, '');
        if (doc.startsWith(d.name + ' ')) doc = doc.slice(d.name.length + 1);
        // A doc that only repeats the name says nothing a question could be asked with.
        const words = doc.split(' ').filter((w) => w.length > 2);
        if (words.length < 4 || doc.toLowerCase().includes(d.name.toLowerCase())) continue;
        pool.push({
          kind,
          repo: f.repo,
          request: `Where is the code that ${doc[0].toLowerCase()}${doc.slice(1)}?`,
          path: f.path,
          line: d.line,
          name: d.name,
        });
      }
    }
  }
  const rng = new Rng(seed, `grounded/${kind}`);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}

export async function runGroundedEval(
  engine: Engine,
  o: { roots: string[]; n: number; seed: number; kinds?: GroundedKind[]; signal?: AbortSignal; log?: (line: string) => void },
): Promise<GroundedResult> {
  const started = performance.now();
  const files: { repo: string; path: string; defs: Def[] }[] = [];
  for (const root of o.roots) {
    const loaded = await loadRepository(engine, root, o.signal);
    files.push(...loaded.files);
    o.log?.(`eval: ${loaded.files.length} source files in ${loaded.workspace.root}`);
  }
  const result: GroundedResult = { repos: o.roots, seed: o.seed, kinds: {}, wall_s: 0 };
  for (const kind of o.kinds ?? (['where', 'natural'] as const)) {
    const questions = groundedQuestions(files, kind, o.n, o.seed);
    if (questions.length === 0) continue;
    const hits: Record<GroundedRow, { hit: number[]; top1: number[]; top3: number[] }> = Object.fromEntries(
      GROUNDED_ROWS.map((r) => [r, { hit: [], top1: [], top3: [] }]),
    ) as never;
    for (const q of questions) {
      o.signal?.throwIfAborted();
      const state = engine.workspaces.get(q.repo)!;
      const queryVector = await engine.model.queryVector(q.request, o.signal);
      for (const mode of ['lexical', 'vector', 'fused'] as RetrievalMode[]) {
        const r = await rankChunks(engine.model, state, q.request, { mode, signal: o.signal, queryVector });
        const top = r.fused
          .slice(0, 3)
          .map((x) => state.workspace.chunkByHash(x.hash))
          .filter((c) => !!c);
        const at = (i: number) => top[i]?.path === q.path;
        const holds = top[0] !== undefined && at(0) && top[0].startLine <= q.line && top[0].endLine >= q.line;
        const row = hits[mode as GroundedRow];
        row.top1.push(at(0) ? 1 : 0);
        row.top3.push(top.some((c) => c.path === q.path) ? 1 : 0);
        row.hit.push(kind === 'where' ? (holds ? 1 : 0) : top.some((c) => c.path === q.path) ? 1 : 0);
      }
      const answer = await engine.generate({ task: 'ask', root: q.repo, prompt: q.request }, { signal: o.signal });
      const s = answer.sources;
      const g = hits.grounded;
      g.top1.push(s[0]?.path === q.path ? 1 : 0);
      g.top3.push(s.slice(0, 3).some((x) => x.path === q.path) ? 1 : 0);
      g.hit.push(kind === 'where' ? (s[0]?.path === q.path && s[0].line === q.line ? 1 : 0) : g.top3[g.top3.length - 1]);
    }
    const rng = new Rng(o.seed, `grounded/${kind}/bootstrap`);
    const d = pairedDifference(
      hits.fused.hit.map((num) => ({ num, den: 1 })),
      hits.vector.hit.map((num) => ({ num, den: 1 })),
      () => rng.next(),
    );
    result.kinds[kind] = {
      n: questions.length,
      rows: Object.fromEntries(
        GROUNDED_ROWS.map((r) => [
          r,
          { hit: round(mean(hits[r].hit)), file_top1: round(mean(hits[r].top1)), file_top3: round(mean(hits[r].top3)) },
        ]),
      ) as Record<GroundedRow, GroundedRowResult>,
      fused_vs_vector: { diff: round(d.diff), ci95: [round(d.ci95[0]), round(d.ci95[1])] },
    };
  }
  result.wall_s = Math.round((performance.now() - started) / 100) / 10;
  return result;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function formatGrounded(r: GroundedResult): string {
  const lines = [
    `grounded retrieval on ${r.repos.join(', ')} (seed ${r.seed})`,
    '',
    `${'question'.padEnd(10)}${'row'.padEnd(10)}${'n'.padStart(5)}${'hit'.padStart(8)}${'file@1'.padStart(8)}${'file@3'.padStart(8)}`,
  ];
  for (const [kind, k] of Object.entries(r.kinds)) {
    for (const row of GROUNDED_ROWS) {
      const x = k!.rows[row];
      lines.push(
        `${kind.padEnd(10)}${row.padEnd(10)}${String(k!.n).padStart(5)}${x.hit.toFixed(3).padStart(8)}${x.file_top1.toFixed(3).padStart(8)}${x.file_top3.toFixed(3).padStart(8)}`,
      );
    }
    const d = k!.fused_vs_vector;
    lines.push(
      `${''.padEnd(10)}fused - vector: ${d.diff >= 0 ? '+' : ''}${d.diff.toFixed(3)} [${d.ci95[0].toFixed(3)}, ${d.ci95[1].toFixed(3)}]`,
    );
  }
  lines.push(
    '',
    `where: hit = the top source is the definition's file and line; natural: hit = its file among the top 3.`,
    `${r.wall_s.toFixed(1)} s`,
  );
  return lines.join('\n') + '\n';
}
