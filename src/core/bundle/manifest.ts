// The model-bundle contract (see ../shared/design.md, "Model bundle"). A bundle is a directory
// `models/<name>/` holding `manifest.json` and the files it names. The training recipe writes it;
// the runtime validates it at load and names the bad field in every error.
//
// Tensor conventions (all float32 unless stated; int64 ids):
//   encoder.onnx  inputs  input_ids [B,T] int64, attention_mask [B,T] int64
//                 outputs chunk_vectors [B, encoder.vectorsPerChunk, encoder.hiddenSize]
//                 (with encoder.retrieval "last", the last of these is the ranking vector alone)
//   adapter.onnx  inputs  chunk_vectors [N, encoder.vectorsPerChunk, encoder.hiddenSize]
//                 outputs soft_tokens [N, adapter.softTokensPerChunk, decoder.hiddenSize]
//   decoder.onnx  Hugging Face / Optimum decoder-with-past convention:
//                 inputs  inputs_embeds [B,T,H], attention_mask [B,P+T] int64, position_ids [B,T] int64,
//                         past_key_values.{i}.key|value [B, numKeyValueHeads, P, headDim]
//                 outputs logits [B,T,V], present.{i}.key|value [B, numKeyValueHeads, P+T, headDim]
//   embeddings    raw little-endian matrix [vocabSize, hiddenSize] of `dtype` (the decoder's input
//                 embedding table, used to embed text tokens next to soft tokens).
//
// Prompt layout — training (models/recipe) and runtime (src/core/runtime) MUST build the same sequence:
//   [specialTokens.bos if present]
//   chatTemplate.system with {content}                    (only when a system text is given)
//   chatTemplate.contextStart
//     for each file, in planner order:
//       chatTemplate.fileHeader with {path}               (text tokens)
//       for each of its chunks placed as soft tokens:      adapter.softTokensPerChunk embedding rows
//     for each of the decoder.recapChunks most relevant of those chunks, best first (when set):
//       chatTemplate.fileHeader with {path}, then the chunk's soft tokens again (nearest the question)
//     for each chunk placed as raw text:
//       chatTemplate.textChunkHeader with {path}, {line}  (text tokens; {line} = chunk startLine)
//       the chunk's code (file bytes startByte..endByte, no encoder header), then "\n" if not already ending in one
//   chatTemplate.contextEnd
//   for each history turn: chatTemplate.user / chatTemplate.assistant with {content}, each + endOfTurn
//   chatTemplate.user with {content} = the request, + chatTemplate.endOfTurn
//   chatTemplate.assistant                                 <- generation starts here, stops at eosTokenIds / endOfTurn
// Text pieces are tokenized separately (no merges across pieces) with the decoder tokenizer, without
// adding the tokenizer's own special tokens.

import type { Capability } from '../protocol';

export const MANIFEST_FORMAT_VERSION = 1;

export interface ChatTemplate {
  /** Each template is literal text with `{content}` (or `{path}`) placeholders. */
  system: string;
  user: string;
  /** Prefix that starts the assistant's turn; generation continues after it. */
  assistant: string;
  /** Text that closes any turn (e.g. an end-of-turn token). */
  endOfTurn: string;
  /** Wraps the repository context: soft tokens and text chunks go between these. */
  contextStart: string;
  contextEnd: string;
  /** Text header placed before a file's soft tokens, e.g. `<|file|>{path}\n`. */
  fileHeader: string;
  /** Text header placed before a chunk given as raw text, e.g. `<|code|>{path}:{line}\n`. */
  textChunkHeader: string;
}

/** The order of the files in the context: as in the repository, or the most relevant to the request first. */
export type ContextOrder = 'repository' | 'relevance';

/** How a chunk's ranking vector comes from its pooled vectors (manifest encoder.retrieval). */
export type RetrievalVector = 'mean' | 'last';

export interface BundleManifest {
  formatVersion: number;
  /** Human name, e.g. `default`. */
  name: string;
  /** Stable id of these weights: part of every soft-prompt cache key. Change it when any weight changes. */
  id: string;
  encoder: {
    file: string;
    tokenizer: string;
    /** Longest chunk text in tokens the encoder was trained on; longer input is truncated. */
    maxTokens: number;
    hiddenSize: number;
    vectorsPerChunk: number;
    /**
     * Optional: which pooled vectors chunks are ranked by. 'mean' (the default): the mean of all
     * vectorsPerChunk. 'last': the last vector alone, trained only for ranking; the adapter does not read
     * it, so alignment can train the soft-token vectors without moving retrieval.
     */
    retrieval?: RetrievalVector;
  };
  adapter: {
    file: string;
    softTokensPerChunk: number;
  };
  decoder: {
    file: string;
    tokenizer: string;
    hiddenSize: number;
    numLayers: number;
    numKeyValueHeads: number;
    headDim: number;
    vocabSize: number;
    maxPositions: number;
    /**
     * Optional: the most context positions the decoder was trained with. The planner's default context
     * budget (a small model trained on a few files answers worse with the whole window filled); an explicit
     * budget (setting, --context-budget) overrides it.
     */
    contextPositions?: number;
    /**
     * Optional: the order of the files in the context the decoder was trained with. 'repository' (the
     * default) or 'relevance': the files most relevant to the request first (see runtime/plan/planner.ts).
     */
    contextOrder?: ContextOrder;
    /**
     * Optional: the number of most relevant soft-token chunks repeated after the files, each under its
     * file's header, nearest the request (default 0). A small decoder reads one chunk in a fixed place far
     * better than it finds it among dozens (models/recipe README, "A twelfth session").
     */
    recapChunks?: number;
    embeddings: { file: string; dtype: 'float32' | 'float16' };
  };
  chatTemplate: ChatTemplate;
  /** Special token strings by role (bos, eos, pad, ...), as in the decoder tokenizer. */
  specialTokens: Record<string, string>;
  /** Generation stops at any of these token ids. */
  eosTokenIds: number[];
  /**
   * What the bundle can do, set at export from its evaluation: 'locate' (rank and point at code),
   * 'explain', 'summarize', 'generate' (write prose or code good enough to show). Absent: 'locate' only,
   * so a bundle that never claimed to write is never shown writing.
   */
  capabilities?: Capability[];
  /** How the weights were made: recipe version, data, steps, wall time, metrics. Free-form JSON. */
  training: Record<string, unknown>;
}
