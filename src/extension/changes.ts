// What each workspace folder needs indexed next: a full walk (start-up, re-index, settings) or just the
// paths that were saved, created, deleted or renamed since the last index (sent as IndexParams.paths, so
// the runtime refreshes only those). No `vscode` import: unit-tested.
import * as path from 'node:path';

/** Folders whose changes are not source changes: the sidecar's own cache, VCS data, dependencies. */
const IGNORED = /(^|\/)(\.git|\.e2code|node_modules)(\/|$)/;
/** Files whose change alters what is indexed at all: a full walk, not a refresh of the file. */
const RULE_FILES = new Set(['.gitignore', '.e2codeignore']);
/** More changed paths than this in one batch (a branch switch, a big checkout): walk the tree instead. */
export const MAX_BATCH_PATHS = 2000;

export type IndexJob = { full: true } | { full: false; paths: string[] };

/** The workspace-relative path (forward slashes) of a changed file, or undefined if it is not a source change. */
export function changedPath(root: string, file: string): string | undefined {
  const rel = path.relative(root, file);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const posix = rel.split(path.sep).join('/');
  return IGNORED.test(posix) ? undefined : posix;
}

export class PendingChanges {
  private readonly byRoot = new Map<string, { full: boolean; paths: Set<string> }>();

  private entry(root: string): { full: boolean; paths: Set<string> } {
    let e = this.byRoot.get(root);
    if (!e) {
      e = { full: false, paths: new Set() };
      this.byRoot.set(root, e);
    }
    return e;
  }

  /** A full index of the folder; it covers any paths already waiting. */
  addFull(root: string): void {
    const e = this.entry(root);
    e.full = true;
    e.paths.clear();
  }

  /** One changed path (workspace-relative). */
  addPath(root: string, rel: string): void {
    const e = this.entry(root);
    if (e.full) return;
    if (RULE_FILES.has(path.posix.basename(rel)) || e.paths.size >= MAX_BATCH_PATHS) {
      this.addFull(root);
      return;
    }
    e.paths.add(rel);
  }

  has(root: string): boolean {
    return this.byRoot.has(root);
  }

  get size(): number {
    return this.byRoot.size;
  }

  /** The folder to index next, in the order they were first queued. */
  next(): string | undefined {
    return this.byRoot.keys().next().value;
  }

  /** Removes and returns what a folder needs. */
  take(root: string): IndexJob | undefined {
    const e = this.byRoot.get(root);
    if (!e) return undefined;
    this.byRoot.delete(root);
    return e.full ? { full: true } : { full: false, paths: [...e.paths].sort() };
  }

  delete(root: string): void {
    this.byRoot.delete(root);
  }

  clear(): void {
    this.byRoot.clear();
  }
}
