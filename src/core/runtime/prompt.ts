// Prompt assembly: the layout fixed in ../bundle/manifest.ts, built as a list of pieces (text token ids
// or soft-token rows) and then flattened into inputs_embeds by looking text tokens up in the decoder's
// embedding table. Text pieces are tokenized one by one so that no merge crosses a piece boundary,
// exactly as the training recipe does.
import { createHash } from 'node:crypto';
import type { BundleManifest } from '../bundle/manifest';
import type { ChatTurn } from '../protocol';
import type { EmbeddingTable } from './bundle';
import type { TextTokenizer } from './tokenizer';

export type PromptPiece =
  | { kind: 'text'; text: string; ids: number[] }
  | { kind: 'soft'; rows: number; data: Float32Array; hash: string };

export interface PromptContext {
  /** Files with the soft tokens of their chunks, in planner order. */
  softFiles: { path: string; chunks: { hash: string; softTokens: Float32Array }[] }[];
  /** Chunks given as raw code. */
  textChunks: { path: string; line: number; code: string }[];
}

export interface PromptSpec {
  system?: string;
  context: PromptContext;
  history?: ChatTurn[];
  request: string;
}

export interface BuiltPrompt {
  pieces: PromptPiece[];
  /** Total positions (text tokens + soft rows). */
  length: number;
  /** [length * hiddenSize] */
  embeds: Float32Array;
}

export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(content|path|line)\}/g, (m, key: string) => (key in values ? String(values[key]) : m));
}

export class PromptBuilder {
  private readonly hidden: number;
  private readonly softRows: number;

  constructor(
    private readonly manifest: BundleManifest,
    private readonly tokenizer: TextTokenizer,
    private readonly embeddings: EmbeddingTable,
  ) {
    this.hidden = manifest.decoder.hiddenSize;
    this.softRows = manifest.adapter.softTokensPerChunk;
  }

  /** Text token ids of one piece (no special tokens added by the tokenizer). */
  tokens(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  fileHeaderCost(path: string): number {
    return this.tokens(fill(this.manifest.chatTemplate.fileHeader, { path })).length;
  }

  textChunkCost(path: string, line: number, code: string): number {
    const header = this.tokens(fill(this.manifest.chatTemplate.textChunkHeader, { path, line })).length;
    return header + this.tokens(code.endsWith('\n') ? code : code + '\n').length;
  }

  /** Positions of everything except the context: bos, system, wrappers, history, request, assistant prefix. */
  overheadCost(spec: Omit<PromptSpec, 'context'>): number {
    return this.pieces({ ...spec, context: { softFiles: [], textChunks: [] } }).reduce((n, p) => n + (p.kind === 'text' ? p.ids.length : p.rows), 0);
  }

  pieces(spec: PromptSpec): PromptPiece[] {
    const t = this.manifest.chatTemplate;
    const out: PromptPiece[] = [];
    const text = (s: string) => {
      if (s.length > 0) out.push({ kind: 'text', text: s, ids: this.tokens(s) });
    };
    const bos = this.manifest.specialTokens.bos;
    if (bos) {
      const id = this.tokenizer.tokenToId(bos);
      if (id === undefined) throw new Error(`bundle special token bos "${bos}" is not in the decoder tokenizer`);
      out.push({ kind: 'text', text: bos, ids: [id] });
    }
    if (spec.system) text(fill(t.system, { content: spec.system }));
    text(t.contextStart);
    for (const file of spec.context.softFiles) {
      text(fill(t.fileHeader, { path: file.path }));
      for (const c of file.chunks) {
        if (c.softTokens.length !== this.softRows * this.hidden) {
          throw new Error(`soft tokens of chunk ${c.hash} have ${c.softTokens.length} values, expected ${this.softRows} x ${this.hidden}`);
        }
        out.push({ kind: 'soft', rows: this.softRows, data: c.softTokens, hash: c.hash });
      }
    }
    for (const c of spec.context.textChunks) {
      text(fill(t.textChunkHeader, { path: c.path, line: c.line }));
      text(c.code.endsWith('\n') ? c.code : c.code + '\n');
    }
    text(t.contextEnd);
    for (const turn of spec.history ?? []) {
      const template = turn.role === 'user' ? t.user : t.assistant;
      // The assistant template is usually a bare prefix (generation continues after it): append then.
      text(template.includes('{content}') ? fill(template, { content: turn.content }) : template + turn.content);
      text(t.endOfTurn);
    }
    text(fill(t.user, { content: spec.request }));
    text(t.endOfTurn);
    text(t.assistant);
    return out;
  }

  build(spec: PromptSpec): BuiltPrompt {
    const pieces = this.pieces(spec);
    const length = pieces.reduce((n, p) => n + (p.kind === 'text' ? p.ids.length : p.rows), 0);
    const embeds = new Float32Array(length * this.hidden);
    let pos = 0;
    for (const p of pieces) {
      if (p.kind === 'text') {
        for (const id of p.ids) this.embeddings.copyRow(id, embeds, pos++ * this.hidden);
      } else {
        embeds.set(p.data, pos * this.hidden);
        pos += p.rows;
      }
    }
    return { pieces, length, embeds };
  }
}

/** The prompt up to its last soft piece (bos, system, the soft part of the context), by content. */
export function contextPrefix(bundleId: string, pieces: PromptPiece[]): { key: string; length: number } | undefined {
  let last = -1;
  pieces.forEach((p, i) => {
    if (p.kind === 'soft') last = i;
  });
  if (last < 0) return undefined;
  const hash = createHash('sha256').update(bundleId);
  let length = 0;
  for (const p of pieces.slice(0, last + 1)) {
    if (p.kind === 'text') {
      hash.update(`t${p.ids.join(',')};`);
      length += p.ids.length;
    } else {
      hash.update(`s${p.hash};`);
      length += p.rows;
    }
  }
  return { key: hash.digest('hex'), length };
}
