// The JSON-RPC contract between clients (extension, CLI) and the sidecar (vscode-jsonrpc over stdio).
// Requests are cancellable with the protocol's own `$/cancelRequest`. Streaming goes out as
// notifications tagged with the client-chosen `streamId`.
import type { Chunk, Progress } from './types';

export type Device = 'auto' | 'cpu' | 'cuda';
// Without a usable model bundle `initialize` is refused (with the reason), but the sidecar keeps serving
// what needs no model: `status` (state 'error' and the reason), `index` (walk and chunk only; the result
// carries `modelError`), `chunks`, pause/resume. `generate` is refused with the reason.
export type Task = 'ask' | 'explain' | 'summarize' | 'generate';
/** What a bundle can do (manifest `capabilities`, set at export from its evaluation). A bundle without
 * `explain`/`summarize`/`generate` answers from the index alone: located code, signatures and docs. */
export type Capability = 'locate' | 'explain' | 'summarize' | 'generate';

export interface InitializeParams {
  bundlePath: string;
  device: Device;
  /** Intra-op threads for onnxruntime; 0 = its default. */
  threads?: number;
  /** Where the soft-prompt cache lives (shared across workspaces). */
  cacheDir?: string;
}
export interface InitializeResult {
  bundleId: string;
  bundleName: string;
  /** Execution provider actually in use after any fallback. */
  provider: 'cuda' | 'cpu';
  /** Why the requested provider was not used, if it was not. */
  providerNote?: string;
  capabilities: Capability[];
}

export interface IndexOptions {
  excludeGlobs?: string[];
  maxFileBytes?: number;
}
export interface IndexParams {
  root: string;
  /** Workspace-relative paths that were saved, created, deleted or renamed: only these are refreshed
   * (the index's add/remove lists), no walk of the tree. Absent: a full refresh. */
  paths?: string[];
  options?: IndexOptions;
  streamId?: string;
}
export interface IndexResult {
  files: number;
  chunks: number;
  encoded: number;
  cached: number;
  skipped: Record<string, number>;
  seconds: number;
  /** Set when the model bundle could not be loaded: files were walked and chunked, nothing encoded. */
  modelError?: string;
  /** Files added, updated and removed by this run. */
  changes?: { added: number; updated: number; removed: number };
}

export interface Selection {
  path: string;
  startLine: number;
  endLine: number;
  text: string;
}
export interface GenerateOptions {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  hybrid?: boolean;
  /** Decoder positions the repository context may use; default: the bundle's decoder.contextPositions if it has one, else its max minus reserves. */
  contextBudget?: number;
  stop?: string[];
  /** Keep decoding past end-of-sequence tokens and repetition (fixed-length runs: benchmarks, tests). */
  ignoreEos?: boolean;
}
export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}
export interface GenerateParams {
  task: Task;
  root: string;
  prompt: string;
  history?: ChatTurn[];
  selection?: Selection;
  /** summarize: a workspace-relative directory or file to summarize ('' or absent: the whole workspace). */
  scope?: string;
  options?: GenerateOptions;
  streamId?: string;
}
export interface Citation {
  path: string;
  line: number;
  symbol?: string;
}
/** A real location from the index that an answer rests on, best first. Quoted from the file as indexed. */
export interface Source {
  path: string;
  /** 1-based, inclusive. */
  line: number;
  endLine: number;
  /** The defined name at `line`, when the source is a definition. */
  symbol?: string;
  /** The definition's header as written (e.g. `func (c *Command) AddCommand(cmds ...*Command)`). */
  signature?: string;
  /** Its doc comment, quoted (comment markers removed). */
  doc?: string;
  /** How it was found: named by the model's answer, an exact definition of a name in the request, or
   * the fused lexical + vector ranking. */
  from: 'answer' | 'definition' | 'search';
}
export interface GenerateResult {
  /** Markdown. With `origin` 'index' it is assembled from the index (located code and its docs): no model prose. */
  answer: string;
  /** Who wrote `answer`: the model, or the runtime from the index (a bundle that cannot write this task). */
  origin: 'model' | 'index';
  /** A plain-words note for the user (e.g. nothing matched, this model cannot write code). */
  notice?: string;
  citations: Citation[];
  sources: Source[];
  timings: { firstTokenMs: number; tokensPerSecond: number };
  /** What went into the decoder; `decoderRuns` counts the decoder passes of the request (0 for an answer from the index alone). */
  context: { positions: number; softChunks: number; textChunks: number; softFiles: string[]; textFiles: string[]; decoderRuns: number };
  stopReason: 'eos' | 'maxTokens' | 'stop' | 'cancelled' | 'repetition';
}

export interface StatusResult {
  state: 'starting' | 'idle' | 'indexing' | 'paused' | 'generating' | 'error';
  bundleId?: string;
  provider?: string;
  queueLength: number;
  rssBytes: number;
  message?: string;
}

/** Method names: requests. */
export const Methods = {
  initialize: 'e2code/initialize',
  index: 'e2code/index',
  pauseIndex: 'e2code/pauseIndex',
  resumeIndex: 'e2code/resumeIndex',
  chunks: 'e2code/chunks',
  generate: 'e2code/generate',
  status: 'e2code/status',
  shutdown: 'e2code/shutdown',
} as const;

/** Notification names: sidecar -> client. */
export const Notifications = {
  progress: 'e2code/progress',
  token: 'e2code/token',
  log: 'e2code/log',
} as const;

export interface ProgressNotification extends Progress {
  streamId: string;
  phase: 'walk' | 'chunk' | 'encode';
  perSecond?: number;
}
export interface TokenNotification {
  streamId: string;
  text: string;
}
export interface ChunksParams {
  root: string;
  path: string;
}
export interface ChunksResult {
  chunks: Chunk[];
}
