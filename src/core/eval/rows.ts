// The evaluation rows: the same question and the same decoder, with five contexts (data.py variant):
//   none       no context (the context wrappers only)
//   truncated  the question's files as text chunks, in order, cut at ~400 positions
//   retrieved  the top-k chunks of those files by the encoder's retrieval vectors, as text chunks
//   soft       every chunk of those files as soft tokens under its file header (files in drawn order, or
//              best first by the encoder's ranking for a bundle trained so: manifest decoder.contextOrder)
//   hybrid     soft + the defining chunk as a text chunk (where/what), as the hybrid planner places exact matches
// For a bundle that repeats its best chunks (manifest decoder.recapChunks), the soft and hybrid rows end
// their soft part with the encoder's top chunks again, each under its file header, as the planner does.
// A row is a layout of chunks; the runner turns it into the product's PromptBuilder input.
import type { EvalChunk, EvalQuestion, EvalTask } from './questions';

export const ROWS = ['none', 'truncated', 'retrieved', 'soft', 'hybrid'] as const;
export type EvalRow = (typeof ROWS)[number];

/** Rows per task: reconstruction compares soft tokens against no context only (stages/align.py). */
export function rowsFor(task: EvalTask): EvalRow[] {
  return task === 'reconstruct' ? ['none', 'soft'] : [...ROWS];
}

/** eval.py: max_text_positions of the truncated row. */
export const TRUNCATED_POSITIONS = 400;

export interface RowLayout {
  /** Files with the chunks placed as soft tokens, in prompt order. */
  soft: { path: string; chunks: EvalChunk[] }[];
  /** Chunks placed as text, in prompt order. */
  text: EvalChunk[];
}

export interface RowOptions {
  /** retrieved: the question's chunks ranked best first, already cut to top-k. */
  ranked?: EvalChunk[];
  /** Positions of a chunk placed as text (header + code). */
  textChunkCost: (c: EvalChunk) => number;
  maxTextPositions?: number;
  /** soft/hybrid: the question's file paths in the order to place them (relevance order), else drawn order. */
  fileOrder?: readonly string[];
  /** soft/hybrid: chunks repeated after the files (the encoder's best, best first). */
  recap?: readonly EvalChunk[];
}

export function rowLayout(q: EvalQuestion, row: EvalRow, o: RowOptions): RowLayout {
  let files = q.files;
  if (o.fileOrder) {
    const rank = new Map(o.fileOrder.map((p, i) => [p, i]));
    files = [...files].sort((a, b) => (rank.get(a.path) ?? rank.size) - (rank.get(b.path) ?? rank.size));
  }
  const soft =
    row === 'soft' || row === 'hybrid'
      ? [...files.map((f) => ({ path: f.path, chunks: f.chunks })), ...(o.recap ?? []).map((c) => ({ path: c.path, chunks: [c] }))]
      : [];
  let text: EvalChunk[] = [];
  if (row === 'hybrid' && q.defChunk) text = [q.defChunk];
  else if (row === 'retrieved') text = o.ranked ?? [];
  else if (row === 'truncated') {
    const max = o.maxTextPositions ?? TRUNCATED_POSITIONS;
    let used = 0;
    // As data.py variant: each file's chunks in order until one does not fit, then the next file's.
    for (const f of q.files) {
      for (const c of f.chunks) {
        const cost = o.textChunkCost(c);
        if (used + cost > max) break;
        text.push(c);
        used += cost;
      }
    }
  }
  return { soft, text };
}
