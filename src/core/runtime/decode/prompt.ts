// Prompt assembly: the layout fixed in ../bundle/manifest.ts, built as a list of pieces (text token ids
// or soft-token rows) and then flattened into inputs_embeds by looking text tokens up in the decoder's
// embedding table. Text pieces are tokenized one by one so that no merge crosses a piece boundary,
// exactly as the training recipe does.
//
// Trust: the template's own text (the manifest's chat template) keeps its special tokens; everything
// filled into it ({content}, {path}, {line}: file text, paths, the question, history, selections) is
// untrusted and encoded with `encodeUntrusted`, so that `<|im_end|>` in a file is text, not the end of
// a turn. A filled template is therefore several pieces: template text, then each value (marked
// `untrusted`). Paths are written with control characters escaped (../../pathText), so a file header
// is always one line. models/recipe/common.py `encode_template` implements the same split.
import { createHash } from 'node:crypto';
import type { BundleManifest } from '../../bundle/manifest';
import type { ChatTurn } from '../../protocol';
import type { EmbeddingTable } from '../model/bundle';
import type { TextTokenizer } from '../model/tokenizer';
import { escapePath } from '../../pathText';

export type PromptPiece =
  { kind: 'text'; text: string; ids: number[]; untrusted?: true } | { kind: 'soft'; rows: number; data: Float32Array; hash: string };

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

const PLACEHOLDER = /\{(content|path|line)\}/g;

export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(PLACEHOLDER, (m, key: string) => (key in values ? String(values[key]) : m));
}

/** A template split at the placeholders that `values` fills: literal text and the values, in order. */
export function splitTemplate(template: string, values: Record<string, string | number>): { text: string; untrusted: boolean }[] {
  const out: { text: string; untrusted: boolean }[] = [];
  let at = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!(m[1] in values)) continue;
    out.push({ text: template.slice(at, m.index), untrusted: false });
    out.push({ text: String(values[m[1]]), untrusted: true });
    at = m.index + m[0].length;
  }
  out.push({ text: template.slice(at), untrusted: false });
  return out.filter((p) => p.text.length > 0);
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

  /** Text token ids of one trusted piece (template text: its special-token strings are special tokens). */
  tokens(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** Pieces of a template filled with untrusted values (see the note at the top). */
  templatePieces(template: string, values: Record<string, string | number>): PromptPiece[] {
    return splitTemplate(template, values).map((p) =>
      p.untrusted
        ? { kind: 'text', text: p.text, ids: this.tokenizer.encodeUntrusted(p.text), untrusted: true }
        : { kind: 'text', text: p.text, ids: this.tokenizer.encode(p.text) },
    );
  }

  /** An untrusted piece (file text, a question). */
  untrustedPiece(text: string): PromptPiece {
    return { kind: 'text', text, ids: this.tokenizer.encodeUntrusted(text), untrusted: true };
  }

  fileHeaderCost(path: string): number {
    return cost(this.templatePieces(this.manifest.chatTemplate.fileHeader, { path: escapePath(path) }));
  }

  textChunkCost(path: string, line: number, code: string): number {
    const header = cost(this.templatePieces(this.manifest.chatTemplate.textChunkHeader, { path: escapePath(path), line }));
    return header + this.tokenizer.encodeUntrusted(code.endsWith('\n') ? code : code + '\n').length;
  }

  /** Positions of everything except the context: bos, system, wrappers, history, request, assistant prefix. */
  overheadCost(spec: Omit<PromptSpec, 'context'>): number {
    return this.pieces({ ...spec, context: { softFiles: [], textChunks: [] } }).reduce(
      (n, p) => n + (p.kind === 'text' ? p.ids.length : p.rows),
      0,
    );
  }

  pieces(spec: PromptSpec): PromptPiece[] {
    const t = this.manifest.chatTemplate;
    const out: PromptPiece[] = [];
    const text = (s: string) => {
      if (s.length > 0) out.push({ kind: 'text', text: s, ids: this.tokens(s) });
    };
    const filled = (template: string, values: Record<string, string | number>) => {
      for (const p of this.templatePieces(template, values)) out.push(p);
    };
    const data = (s: string) => {
      if (s.length > 0) out.push(this.untrustedPiece(s));
    };
    const bos = this.manifest.specialTokens.bos;
    if (bos) {
      const id = this.tokenizer.tokenToId(bos);
      if (id === undefined) throw new Error(`bundle special token bos "${bos}" is not in the decoder tokenizer`);
      out.push({ kind: 'text', text: bos, ids: [id] });
    }
    if (spec.system) filled(t.system, { content: spec.system });
    text(t.contextStart);
    for (const file of spec.context.softFiles) {
      filled(t.fileHeader, { path: escapePath(file.path) });
      for (const c of file.chunks) {
        if (c.softTokens.length !== this.softRows * this.hidden) {
          throw new Error(`soft tokens of chunk ${c.hash} have ${c.softTokens.length} values, expected ${this.softRows} x ${this.hidden}`);
        }
        out.push({ kind: 'soft', rows: this.softRows, data: c.softTokens, hash: c.hash });
      }
    }
    for (const c of spec.context.textChunks) {
      filled(t.textChunkHeader, { path: escapePath(c.path), line: c.line });
      data(c.code.endsWith('\n') ? c.code : c.code + '\n');
    }
    text(t.contextEnd);
    for (const turn of spec.history ?? []) {
      const template = turn.role === 'user' ? t.user : t.assistant;
      // The assistant template is usually a bare prefix (generation continues after it): append then.
      if (template.includes('{content}')) filled(template, { content: turn.content });
      else {
        text(template);
        data(turn.content);
      }
      text(t.endOfTurn);
    }
    filled(t.user, { content: spec.request });
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

function cost(pieces: PromptPiece[]): number {
  return pieces.reduce((n, p) => n + (p.kind === 'text' ? p.ids.length : p.rows), 0);
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
