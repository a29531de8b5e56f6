// The index without a model: when the bundle cannot be loaded (missing, truncated, mismatched), the
// sidecar still walks and chunks workspaces and lists a file's chunks, so that everything that does not
// need the model keeps working; only answering needs the model. Chunk sizes follow the bundle's encoder
// (its manifest and tokenizer, when those two can still be read: then the index on disk is the very one
// the engine uses once the bundle is fixed); otherwise the chunker's length estimate.
import path from 'node:path';
import type { Chunk } from '../core/types';
import type { IndexOptions, IndexResult, ProgressNotification } from '../core/protocol';
import { readSizing, type ChunkSizing } from '../core/runtime/workspace/sizing';
import { openWorkspace, type Workspace } from '../core/runtime/workspace/workspace';
import { SerialRuns } from '../core/runtime/workspace/serialRuns';
import { FILE_CAPS, checkRegularFile } from '../core/runtime/model/bundleFiles';

function sizingOf(bundlePath: string): ChunkSizing {
  try {
    // A broken bundle may hold a FIFO or a device where its manifest should be: reading one would block
    // this process for good (the tokenizer is read by a reader that checks it itself).
    checkRegularFile(path.join(bundlePath, 'manifest.json'), FILE_CAPS.manifest);
    return readSizing(bundlePath);
  } catch {
    return { note: 'chunks sized by a length estimate (the bundle tokenizer is unreadable)' };
  }
}

export class ModelFreeIndex {
  private readonly workspaces = new Map<string, { workspace: Workspace; indexed: boolean }>();
  private readonly runs = new SerialRuns<IndexResult>();
  private readonly sizing: ChunkSizing;

  /** `modelError`: why the model is not available (reported with every index result). */
  constructor(
    bundlePath: string,
    readonly modelError: string,
  ) {
    this.sizing = sizingOf(bundlePath);
  }

  get note(): string {
    return this.sizing.note;
  }

  /** Walks and chunks `root` (nothing is encoded); runs of one root are serialized. */
  index(
    root: string,
    hooks: { signal?: AbortSignal; options?: IndexOptions; onProgress?: (p: Omit<ProgressNotification, 'streamId'>) => void } = {},
  ): Promise<IndexResult> {
    root = path.resolve(root);
    return this.runs.run(root, () => this.indexNow(root, hooks));
  }

  private async indexNow(
    root: string,
    hooks: { signal?: AbortSignal; options?: IndexOptions; onProgress?: (p: Omit<ProgressNotification, 'streamId'>) => void },
  ): Promise<IndexResult> {
    const started = performance.now();
    let state = this.workspaces.get(root);
    if (!state) {
      const workspace = await openWorkspace(root, {
        ...hooks.options,
        ...this.sizing,
      });
      state = { workspace, indexed: false };
      this.workspaces.set(root, state);
    }
    const summary = await state.workspace.refresh({
      signal: hooks.signal,
      onProgress: (p) => hooks.onProgress?.({ phase: p.phase, done: p.done, total: p.total }),
    });
    state.indexed = true;
    return {
      files: summary.files,
      chunks: state.workspace.allChunks().length,
      encoded: 0,
      cached: 0,
      skipped: summary.skipped,
      seconds: (performance.now() - started) / 1000,
      modelError: this.modelError,
    };
  }

  /** A file's chunks with text (indexing the root first if this process has not yet). */
  async chunks(root: string, file: string): Promise<Chunk[]> {
    root = path.resolve(root);
    if (!this.workspaces.get(root)?.indexed) await this.index(root);
    const ws = this.workspaces.get(root)!.workspace;
    if (!ws.files().includes(file)) return [];
    return ws.readChunks(file);
  }

  async close(): Promise<void> {
    for (const s of this.workspaces.values()) await s.workspace.close();
    this.workspaces.clear();
  }
}
