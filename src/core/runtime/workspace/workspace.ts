// What the runtime needs from a workspace, backed by the persistent WorkspaceIndex of src/core/index:
// chunk metadata in repository order, the definitions table, a refresh that hands over the text of new
// chunks, and chunk text on demand for anything else that must be encoded.
import type { Chunk } from '../../types';
import type { IndexOptions } from '../../protocol';
import { createChunker } from '../../chunker';
import { WorkspaceIndex, type IndexedChunk } from '../../index/index';

export type { IndexedChunk };

export interface WorkspaceProgress {
  phase: 'walk' | 'chunk';
  done: number;
  total: number;
}

export interface RefreshSummary {
  files: number;
  chunks: number;
  skipped: Record<string, number>;
  /** Text of chunks the refresh (re)chunked, by hash: saves a second read when encoding them. */
  texts: Map<string, string>;
  /** Chunk hashes referenced now and not before (what may need encoding), and no longer referenced. */
  newChunkHashes: string[];
  removedChunkHashes: string[];
  added: number;
  updated: number;
  removed: number;
}

export interface Workspace {
  readonly root: string;
  /** A full refresh (walk), or with `paths` only those paths (saves, creates, deletes, renames). */
  refresh(options: {
    onProgress?: (p: WorkspaceProgress) => void;
    signal?: AbortSignal;
    paths?: readonly string[];
  }): Promise<RefreshSummary>;
  files(): string[];
  chunksOf(path: string): readonly IndexedChunk[];
  allChunks(): IndexedChunk[];
  definitions(name: string): readonly IndexedChunk[];
  chunkByHash(hash: string): IndexedChunk | undefined;
  /** BM25 over chunk text, symbols and paths (the index keeps it in step with the chunks), best first. */
  lexicalSearch(query: string, limit: number): { hash: string; score: number }[];
  /** Why word search is off (a workspace too large for it), else undefined. */
  readonly lexicalOff: string | undefined;
  /** Encoder text of chunks by hash (re-derived from the files). */
  texts(hashes: Iterable<string>): Promise<Map<string, string>>;
  /** A file's chunks with text. */
  readChunks(path: string): Promise<Chunk[]>;
  close(): Promise<void>;
}

export interface WorkspaceOpenOptions extends IndexOptions {
  /** Chunk token budget (the bundle's: see ./sizing.ts). */
  chunkTokens?: number;
  countTokens?: (text: string) => number;
  /** Identifies the token counter: part of the index fingerprint. */
  tokenizerId?: string;
  /** Keep the index on disk (default true; location per src/core/index). */
  persist?: boolean;
  /** Receives the index's notes as they are made (e.g. it is kept in memory: its store is not writable). */
  onNote?: (note: string) => void;
}

class IndexedWorkspace implements Workspace {
  constructor(private readonly index: WorkspaceIndex) {}

  get root(): string {
    return this.index.root;
  }

  async refresh({
    onProgress,
    signal,
    paths,
  }: {
    onProgress?: (p: WorkspaceProgress) => void;
    signal?: AbortSignal;
    paths?: readonly string[];
  }): Promise<RefreshSummary> {
    const texts = new Map<string, string>();
    const options = {
      signal,
      onProgress: (p: { done: number; total: number }) => onProgress?.({ phase: 'chunk', done: p.done, total: p.total }),
      onChunks: (chunks: Chunk[]) => {
        for (const c of chunks) texts.set(c.hash, c.text);
      },
    };
    const r = paths ? await this.index.refreshPaths(paths, options) : await this.index.refresh(options);
    return {
      files: r.files,
      chunks: r.chunks,
      skipped: r.skipped as Record<string, number>,
      texts,
      newChunkHashes: r.newChunkHashes,
      removedChunkHashes: r.removedChunkHashes,
      added: r.added.length,
      updated: r.updated.length,
      removed: r.removed.length,
    };
  }

  files(): string[] {
    return this.index.files();
  }

  chunksOf(path: string): readonly IndexedChunk[] {
    return this.index.chunksOf(path);
  }

  allChunks(): IndexedChunk[] {
    return [...this.index.allChunks()];
  }

  definitions(name: string): readonly IndexedChunk[] {
    return this.index.definitions(name);
  }

  chunkByHash(hash: string): IndexedChunk | undefined {
    return this.index.chunkByHash(hash);
  }

  get lexicalOff(): string | undefined {
    return this.index.lexicalOff;
  }

  lexicalSearch(query: string, limit: number): { hash: string; score: number }[] {
    return this.index.lexicalSearch(query, limit);
  }

  async texts(hashes: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [h, c] of await this.index.chunkTexts(hashes)) out.set(h, c.text);
    return out;
  }

  readChunks(path: string): Promise<Chunk[]> {
    return this.index.readChunks(path);
  }

  close(): Promise<void> {
    return this.index.close();
  }
}

export async function openWorkspace(root: string, options: WorkspaceOpenOptions): Promise<Workspace> {
  const chunker = await createChunker({ maxTokens: options.chunkTokens, countTokens: options.countTokens });
  const index = await WorkspaceIndex.open({
    root,
    chunker,
    chunkTokens: options.chunkTokens,
    tokenizerId: options.tokenizerId,
    excludeGlobs: options.excludeGlobs,
    maxFileBytes: options.maxFileBytes,
    persist: options.persist,
    onNote: options.onNote,
  });
  return new IndexedWorkspace(index);
}
