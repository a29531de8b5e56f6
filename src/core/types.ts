// Shared data shapes of the headless core. Everything here is plain data (JSON-serialisable) so that
// the CLI, the sidecar and the extension can pass it across process boundaries unchanged.

/** One syntax-aware piece of a file: the unit the encoder compresses into soft tokens. */
export interface Chunk {
  /** Workspace-relative path with forward slashes. */
  path: string;
  /** Language id (e.g. `typescript`, `python`, `markdown`, `text`). */
  language: string;
  /** Byte range into the file as read from disk; end exclusive. A file's chunks tile it exactly. */
  startByte: number;
  endByte: number;
  /** 1-based, inclusive line range of the code. */
  startLine: number;
  endLine: number;
  /** What the chunk is: `function`, `class`, `method`, `impl`, `module`, `statements`, `section`, `window`, ... */
  kind: string;
  /** Enclosing symbol path, e.g. `class Foo > method bar`; empty at top level. */
  symbolPath: string;
  /** Names this chunk defines (functions, classes, methods, types, top-level variables). */
  symbols: string[];
  /** What the encoder sees: a short header (path, symbol path) followed by the code. */
  text: string;
  /** Content address: sha256 (hex) of `text`. Equal text => equal hash => same soft tokens. */
  hash: string;
}

/** Why the walker left a file out. Every skip is counted by reason. */
export type SkipReason =
  | 'ignored'
  | 'binary'
  | 'too-large'
  | 'minified'
  | 'generated'
  | 'symlink-outside'
  | 'symlink-loop'
  | 'unreadable'
  | 'vanished'
  | 'invalid-utf8'
  /** The chunker threw on the file (a bug to report); the rest of the workspace is still indexed. */
  | 'chunk-error';

export interface Progress {
  done: number;
  total: number;
  message?: string;
}
