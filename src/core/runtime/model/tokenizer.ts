// A Hugging Face tokenizer.json, loaded with @huggingface/tokenizers (pure JS; ids identical to the
// Rust tokenizers used by the training recipe). Text pieces are encoded without the tokenizer's own
// special tokens: the bundle's chat template places every special token explicitly.
//
// Untrusted text (file content, chunk text, paths, the user's question, selections) goes through
// `encodeUntrusted`: a special-token string inside it (`<|im_end|>` in a file) must not become the special
// token, or repository text could end the context or a turn early (prompt injection). The rule, shared
// with the recipe (models/recipe/common.py `encode_untrusted`, same ids): split the text at every
// occurrence of an added token's string (leftmost, longest first); encode the text between occurrences
// as usual; encode each occurrence as two ordinary pieces, its first two characters (one if it is only
// two long) and the rest, so that no piece contains a whole special-token string. Decoding the ids gives
// back the exact text. Text without such strings is encoded exactly as `encode` does.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { FILE_CAPS, readRegularFile } from './bundleFiles';

export class TextTokenizer {
  /** One more than the largest id the tokenizer can produce (added tokens included). */
  readonly idLimit: number;
  private readonly hf: HfTokenizer;
  /** Strings of the added (special) tokens and their ids. */
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly specialIds: ReadonlySet<number>;
  /** Matches any added token's string, longest first at a position; undefined when there are none. */
  private readonly specialPattern: RegExp | undefined;
  /**
   * The most UTF-16 characters one token stands for, where that bounds any text's token count from below
   * (a text of n characters takes at least n / maxTokenChars tokens); Infinity where it does not.
   */
  readonly maxTokenChars: number;

  private constructor(json: TokenizerJson) {
    this.hf = new HfTokenizer(json, {});
    let max = -1;
    let longest = 0;
    for (const [token, id] of this.hf.get_vocab(true)) {
      if (id > max) max = id;
      if (token.length > longest) longest = token.length;
    }
    this.idLimit = max + 1;
    // Byte-level BPE without a normalizer: every input byte is one vocabulary character, and nothing is
    // dropped, so a token covers at most its string's length in characters. Other tokenizers may drop
    // text (a normalizer, a whitespace splitter): no bound.
    const byteLevel = !json.normalizer && json.pre_tokenizer?.type === 'ByteLevel' && json.model?.type === 'BPE';
    this.maxTokenChars = byteLevel && longest > 0 ? longest : Infinity;
    const specials = new Map<string, number>();
    for (const t of json.added_tokens ?? []) if (typeof t.content === 'string' && t.content.length > 0) specials.set(t.content, t.id);
    this.specialTokens = specials;
    this.specialIds = new Set(specials.values());
    const contents = [...specials.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
    this.specialPattern = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /** Throws a plain Error naming the file when it is missing or not a tokenizer; callers wrap it. */
  static fromFile(file: string): TextTokenizer {
    // Only a regular file within the cap is read: a FIFO or a link to /dev/zero must not hang or exhaust memory.
    const json = JSON.parse(readRegularFile(file, FILE_CAPS.tokenizer).toString('utf8')) as { model?: unknown; added_tokens?: unknown };
    if (!json || typeof json !== 'object' || !json.model) throw new Error(`${file} is not a Hugging Face tokenizer.json (no "model")`);
    if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) throw new Error(`${file}: "added_tokens" is not a list`);
    return new TextTokenizer(json as TokenizerJson);
  }

  /**
   * Trusted text (the bundle's template pieces): special-token strings become special tokens. Never use
   * this for anything that comes from the repository or the user: see `encodeUntrusted`.
   */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  /** Untrusted text: special-token strings stay ordinary text (see the rule at the top of this file). */
  encodeUntrusted(text: string): number[] {
    if (text.length === 0) return [];
    const pattern = this.specialPattern;
    if (!pattern) return this.encode(text);
    pattern.lastIndex = 0;
    if (!pattern.test(text)) return this.encode(text);
    const out: number[] = [];
    const push = (s: string) => {
      for (const id of this.encode(s)) out.push(id);
    };
    let at = 0;
    pattern.lastIndex = 0;
    for (const m of text.matchAll(pattern)) {
      push(text.slice(at, m.index));
      const head = m[0].length > 2 ? 2 : 1;
      push(m[0].slice(0, head));
      push(m[0].slice(head));
      at = m.index + m[0].length;
    }
    push(text.slice(at));
    for (const id of out) {
      if (this.specialIds.has(id))
        throw new Error(
          `tokenizer: untrusted text still encodes to special token id ${id}; its special tokens cannot be escaped by splitting`,
        );
    }
    return out;
  }

  /** True when `id` is one of the tokenizer's added (special) tokens. */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Special tokens are kept: the caller decides what to show. */
  decode(ids: number[]): string {
    if (ids.length === 0) return '';
    return this.hf.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }
}

/** The parts of a tokenizer.json read here. */
interface TokenizerJson {
  added_tokens?: { id: number; content: string }[];
  normalizer?: unknown;
  pre_tokenizer?: { type?: string } | null;
  model?: { type?: string };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
