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
}

export interface Workspace {
  readonly root: string;
  refresh(options: { onProgress?: (p: WorkspaceProgress) => void; signal?: AbortSignal }): Promise<RefreshSummary>;
  files(): string[];
  chunksOf(path: string): readonly IndexedChunk[];
  allChunks(): IndexedChunk[];
  definitions(name: string): readonly IndexedChunk[];
  /** Encoder text of chunks by hash (re-derived from the files). */
  texts(hashes: Iterable<string>): Promise<Map<string, string>>;
  /** A file's chunks with text. */
  readChunks(path: string): Promise<Chunk[]>;
  close(): Promise<void>;
}

export interface WorkspaceOpenOptions extends IndexOptions {
  countTokens?: (text: string) => number;
  /** Identifies the token counter: part of the index fingerprint. */
  tokenizerId?: string;
  /** Keep the index on disk (default true; location per src/core/index). */
  persist?: boolean;
}

class IndexedWorkspace implements Workspace {
  constructor(private readonly index: WorkspaceIndex) {}

  get root(): string {
    return this.index.root;
  }

  async refresh({ onProgress, signal }: { onProgress?: (p: WorkspaceProgress) => void; signal?: AbortSignal }): Promise<RefreshSummary> {
    const texts = new Map<string, string>();
    const r = await this.index.refresh({
      signal,
      onProgress: (p) => onProgress?.({ phase: 'chunk', done: p.done, total: p.total }),
      onChunks: (chunks) => {
        for (const c of chunks) texts.set(c.hash, c.text);
      },
    });
    return { files: r.files, chunks: r.chunks, skipped: r.skipped as Record<string, number>, texts };
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
  });
  return new IndexedWorkspace(index);
}
