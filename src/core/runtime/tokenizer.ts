// A Hugging Face tokenizer.json, loaded with @huggingface/tokenizers (pure JS; ids identical to the
// Rust tokenizers used by the training recipe). Text pieces are encoded without the tokenizer's own
// special tokens: the bundle's chat template places every special token explicitly.
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

export class TextTokenizer {
  /** One more than the largest id the tokenizer can produce (added tokens included). */
  readonly idLimit: number;
  private readonly hf: HfTokenizer;

  private constructor(json: object) {
    this.hf = new HfTokenizer(json, {});
    let max = -1;
    for (const id of this.hf.get_vocab(true).values()) if (id > max) max = id;
    this.idLimit = max + 1;
  }

  /** Throws a plain Error naming the file when it is missing or not a tokenizer; callers wrap it. */
  static fromFile(file: string): TextTokenizer {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { model?: unknown };
    if (!json || typeof json !== 'object' || !json.model) throw new Error(`${file} is not a Hugging Face tokenizer.json (no "model")`);
    return new TextTokenizer(json);
  }

  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).ids;
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
