// What the runtime needs from a workspace: its chunks in repository order, the definitions table and a
// refresh that reports progress. Backed by the walker and chunker of src/core.
import type { Chunk } from '../types';
import type { IndexOptions } from '../protocol';
import { createChunker } from '../chunker';
import { countByReason, walkFiles } from '../walker';

export interface WorkspaceProgress {
  phase: 'walk' | 'chunk';
  done: number;
  total: number;
}

export interface RefreshSummary {
  files: number;
  chunks: number;
  skipped: Record<string, number>;
}

export interface Workspace {
  readonly root: string;
  refresh(options: { onProgress?: (p: WorkspaceProgress) => void; signal?: AbortSignal }): Promise<RefreshSummary>;
  files(): string[];
  chunksOf(path: string): Chunk[];
  allChunks(): Chunk[];
  definitions(name: string): Chunk[];
}

export interface WorkspaceOpenOptions extends IndexOptions {
  countTokens?: (text: string) => number;
}

class WalkedWorkspace implements Workspace {
  private byPath = new Map<string, Chunk[]>();
  private defs = new Map<string, Chunk[]>();

  constructor(
    readonly root: string,
    private readonly options: WorkspaceOpenOptions,
  ) {}

  async refresh({ onProgress, signal }: { onProgress?: (p: WorkspaceProgress) => void; signal?: AbortSignal }): Promise<RefreshSummary> {
    const chunker = await createChunker({ maxTokens: this.options.chunkTokens, countTokens: this.options.countTokens });
    const byPath = new Map<string, Chunk[]>();
    const skips = [];
    let done = 0;
    for await (const item of walkFiles(this.root, { excludeGlobs: this.options.excludeGlobs, maxFileBytes: this.options.maxFileBytes, signal })) {
      if ('skip' in item) {
        skips.push(item.skip);
        continue;
      }
      byPath.set(item.file.path, await chunker.chunkFile(item.file.path, item.bytes));
      onProgress?.({ phase: 'chunk', done: ++done, total: 0 });
    }
    const sorted = new Map([...byPath.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
    const defs = new Map<string, Chunk[]>();
    for (const chunks of sorted.values()) {
      for (const c of chunks) {
        for (const s of c.symbols) {
          const list = defs.get(s);
          if (list) list.push(c);
          else defs.set(s, [c]);
        }
      }
    }
    this.byPath = sorted;
    this.defs = defs;
    return { files: sorted.size, chunks: this.allChunks().length, skipped: countByReason(skips) as Record<string, number> };
  }

  files(): string[] {
    return [...this.byPath.keys()];
  }

  chunksOf(path: string): Chunk[] {
    return this.byPath.get(path) ?? [];
  }

  allChunks(): Chunk[] {
    return [...this.byPath.values()].flat();
  }

  definitions(name: string): Chunk[] {
    return this.defs.get(name) ?? [];
  }
}

export async function openWorkspace(root: string, options: WorkspaceOpenOptions): Promise<Workspace> {
  return new WalkedWorkspace(root, options);
}
