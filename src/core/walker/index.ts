// The walker: which files of a workspace get indexed, and why each other file does not.
//
// Two stages, so that the incremental index reads only files whose stat changed:
//   listFiles(root)      -> candidate files with size + mtime, and rule-based skips (ignore rules,
//                           symlinks, size cap, binary extensions, lock files, *.min.js, source maps)
//   readWalkFile(file)   -> the file's bytes, or a content-based skip (binary, invalid UTF-8, generated,
//                           minified) or an I/O skip (vanished, unreadable, grew past the size cap)
// `walkFiles` chains both for callers that want every file's bytes.
//
// Own traversal rather than fdir: a directory's .gitignore/.e2codeignore must be read before its
// entries are filtered, and every symlink decision (outside the root, loop, dangling) must be reported
// per path with a reason; fdir resolves or drops symlinks silently and filters without per-dir state.
// The traversal is iterative (no recursion limit on deep trees).
import { constants as fsConstants, lstatSync, promises as fsp, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import type { SkipReason } from '../types';
import { IgnoreRules } from './ignoreRules';
import { classifyContent, classifyName, DEFAULT_CONTENT_LIMITS, type ContentLimits } from './classify';

export { IgnoreRules, DEFAULT_EXCLUDES, isIgnoreFile } from './ignoreRules';
export { classifyContent, classifyName, looksBinary, isValidUtf8, lineStats, DEFAULT_CONTENT_LIMITS } from './classify';
export type { ContentLimits } from './classify';

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

export interface WalkOptions {
  /** Extra exclude globs (gitignore syntax, root-relative); they always win. */
  excludeGlobs?: readonly string[];
  /** Built-in excludes (default DEFAULT_EXCLUDES); pass [] to index node_modules and friends. */
  defaultExcludes?: readonly string[];
  /** Honour .gitignore files and .git/info/exclude (default true). `.e2codeignore` is always honoured. */
  useGitignore?: boolean;
  /** Files larger than this are skipped as `too-large` without being read (default 1 MiB). */
  maxFileBytes?: number;
  contentLimits?: Partial<ContentLimits>;
  /** Only walk this workspace-relative directory (rules of its ancestors still apply). */
  subdir?: string;
  signal?: AbortSignal;
  /** Test seam: runs after a file was listed and before it is read (to delete or chmod it in between). */
  beforeRead?: (file: WalkFile) => void | Promise<void>;
}

export interface WalkFile {
  /** Workspace-relative, forward slashes. */
  path: string;
  absPath: string;
  size: number;
  mtimeMs: number;
}

export interface Skip {
  path: string;
  reason: SkipReason;
  detail?: string;
}

export interface ListResult {
  files: WalkFile[];
  skipped: Skip[];
}

export type ReadResult = { ok: true; bytes: Uint8Array; size: number; mtimeMs: number } | { ok: false; skip: Skip };

interface DirTask {
  abs: string;
  rel: string;
  /** Real paths of this directory and its ancestors: a symlink back into one of them is a loop. */
  chain: readonly string[];
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** An I/O error on a listed path as a skip; an error without a system code (a bug) is rethrown. */
function ioSkip(rel: string, err: unknown): Skip {
  const code = errCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return { path: rel, reason: 'vanished', detail: code };
  if (code === 'EACCES' || code === 'EPERM') return { path: rel, reason: 'unreadable', detail: code };
  if (code === 'ELOOP') return { path: rel, reason: 'symlink-loop', detail: code };
  // Anything else the OS refuses for this one path (ENAMETOOLONG past PATH_MAX, EIO, EMFILE, ...) is
  // reported for the path; only non-system errors (bugs) propagate.
  if (code) return { path: rel, reason: 'unreadable', detail: code };
  throw err;
}

function isInside(rootReal: string, real: string): boolean {
  return real === rootReal || real.startsWith(rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep);
}

export function countByReason(skips: readonly Skip[]): Partial<Record<SkipReason, number>> {
  const counts: Partial<Record<SkipReason, number>> = {};
  for (const s of skips) counts[s.reason] = (counts[s.reason] ?? 0) + 1;
  return counts;
}

/** Normalises a path given relative to the root or absolute into the workspace-relative form, or null if outside. */
export function toRelative(rootAbs: string, p: string): string | null {
  const abs = path.resolve(rootAbs, p);
  const rel = path.relative(rootAbs, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return rel === '' ? '' : null;
  return rel.split(path.sep).join('/');
}

/**
 * Lists the candidate files under `root` with their stat. Ignored directories are not entered: each
 * counts as one `ignored` skip (their contents are never listed).
 *
 * Listing uses synchronous readdir/stat, yielding to the event loop every few hundred entries: for a
 * 30,000-file tree that is several times faster than one promise per entry through libuv's thread
 * pool, and the process stays responsive (and cancellable) meanwhile.
 */
export async function listFiles(root: string, options: WalkOptions = {}, rules?: IgnoreRules): Promise<ListResult> {
  const rootAbs = path.resolve(root);
  let rootReal: string;
  try {
    rootReal = realpathSync(rootAbs);
    if (!statSync(rootReal).isDirectory()) throw new Error(`not a directory: ${rootAbs}`);
  } catch (err) {
    if (errCode(err) === 'ENOENT') throw new Error(`no such directory: ${rootAbs}`);
    throw err;
  }
  const ignoreRules =
    rules ??
    new IgnoreRules(rootAbs, {
      excludeGlobs: options.excludeGlobs,
      defaultExcludes: options.defaultExcludes,
      useGitignore: options.useGitignore,
    });
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const files: WalkFile[] = [];
  const skipped: Skip[] = [];
  const signal = options.signal;

  const stack: DirTask[] = [];
  const sub = options.subdir ? toRelative(rootAbs, options.subdir) : '';
  if (sub === null) throw new Error(`subdir is outside the workspace: ${options.subdir}`);
  if (sub) {
    const decision = ignoreRules.decideWithAncestors(sub, true);
    if (decision.ignored) return { files, skipped: [{ path: sub, reason: 'ignored', detail: decision.by }] };
    let subReal: string;
    try {
      subReal = realpathSync(path.join(rootAbs, sub));
      if (!statSync(subReal).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      return { files, skipped: [ioSkip(sub, err)] };
    }
    if (!isInside(rootReal, subReal)) return { files, skipped: [{ path: sub, reason: 'symlink-outside', detail: subReal }] };
    stack.push({ abs: path.join(rootAbs, sub), rel: sub, chain: [rootReal, subReal] });
  } else {
    stack.push({ abs: rootAbs, rel: '', chain: [rootReal] });
  }

  const visitFile = (rel: string, abs: string, statPath: string): void => {
    const byName = classifyName(rel);
    if (byName) {
      skipped.push({ path: rel, ...byName });
      return;
    }
    let st;
    try {
      st = statSync(statPath);
    } catch (err) {
      skipped.push(ioSkip(rel, err));
      return;
    }
    if (!st.isFile()) return; // sockets, FIFOs, devices: not source
    if (st.size > maxBytes) {
      skipped.push({ path: rel, reason: 'too-large', detail: `${st.size} bytes > ${maxBytes}` });
      return;
    }
    files.push({ path: rel, absPath: abs, size: st.size, mtimeMs: st.mtimeMs });
  };

  const visitSymlink = (task: DirTask, rel: string, abs: string): void => {
    let real: string;
    try {
      real = realpathSync(abs);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ELOOP') skipped.push({ path: rel, reason: 'symlink-loop', detail: 'symlink resolves to itself' });
      else if (code === 'ENOENT') skipped.push({ path: rel, reason: 'unreadable', detail: 'dangling symlink' });
      else skipped.push(ioSkip(rel, err));
      return;
    }
    if (!isInside(rootReal, real)) {
      skipped.push({ path: rel, reason: 'symlink-outside', detail: real });
      return;
    }
    let isDir: boolean;
    try {
      isDir = statSync(real).isDirectory();
    } catch (err) {
      skipped.push(ioSkip(rel, err));
      return;
    }
    const decision = ignoreRules.decide(rel, isDir);
    if (decision.ignored) {
      skipped.push({ path: rel, reason: 'ignored', detail: decision.by });
      return;
    }
    if (!isDir) {
      visitFile(rel, abs, real);
      return;
    }
    // A loop: the target is one of the directories we came through, or contains the current one.
    if (task.chain.includes(real) || isInside(real, task.chain[task.chain.length - 1])) {
      skipped.push({ path: rel, reason: 'symlink-loop', detail: `points back to ${real}` });
      return;
    }
    stack.push({ abs, rel, chain: [...task.chain, real] });
  };

  let sinceYield = 0;
  while (stack.length) {
    signal?.throwIfAborted();
    const task = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(task.abs, { withFileTypes: true });
    } catch (err) {
      skipped.push(ioSkip(task.rel || '.', err));
      continue;
    }
    const names = new Set<string>();
    for (const e of entries) if (e.name === '.gitignore' || e.name === '.e2codeignore') names.add(e.name);
    ignoreRules.loadDir(task.rel, names);
    const parentReal = task.chain[task.chain.length - 1];
    const absPrefix = task.abs.endsWith(path.sep) ? task.abs : task.abs + path.sep;
    for (const entry of entries) {
      const rel = task.rel ? `${task.rel}/${entry.name}` : entry.name;
      const abs = absPrefix + entry.name;
      let kind: 'file' | 'dir' | 'link' | 'other' = entry.isFile()
        ? 'file'
        : entry.isDirectory()
          ? 'dir'
          : entry.isSymbolicLink()
            ? 'link'
            : 'other';
      if (kind === 'other' && !entry.isFIFO() && !entry.isSocket() && !entry.isBlockDevice() && !entry.isCharacterDevice()) {
        // File systems that do not report entry types (DT_UNKNOWN): ask lstat.
        try {
          const st = lstatSync(abs);
          kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other';
        } catch (err) {
          skipped.push(ioSkip(rel, err));
          continue;
        }
      }
      if (kind === 'other') continue;
      if (kind === 'link') {
        visitSymlink(task, rel, abs);
        continue;
      }
      const decision = ignoreRules.decide(rel, kind === 'dir');
      if (decision.ignored) {
        skipped.push({ path: rel, reason: 'ignored', detail: decision.by });
        continue;
      }
      if (kind === 'dir') stack.push({ abs, rel, chain: [...task.chain, path.join(parentReal, entry.name)] });
      else visitFile(rel, abs, abs);
    }
    sinceYield += entries.length + 1;
    if (sinceYield >= 500) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  signal?.throwIfAborted();

  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  files.sort(byPath);
  skipped.sort(byPath);
  return { files, skipped };
}

/**
 * Reads one listed file and applies the content rules. I/O failures become skips: ENOENT (deleted since
 * listing) is `vanished`, EACCES/EPERM is `unreadable`; a file that grew past the cap is `too-large`.
 */
export async function readWalkFile(file: WalkFile, options: WalkOptions = {}): Promise<ReadResult> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  await options.beforeRead?.(file);
  let handle;
  try {
    // O_NONBLOCK: if the path became a FIFO since listing, open must not wait for a writer (the fstat
    // below then reports it); on regular files the flag changes nothing.
    handle = await fsp.open(file.absPath, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (err) {
    return { ok: false, skip: ioSkip(file.path, err) };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { ok: false, skip: { path: file.path, reason: 'vanished', detail: 'no longer a regular file' } };
    if (st.size > maxBytes) return { ok: false, skip: { path: file.path, reason: 'too-large', detail: `${st.size} bytes > ${maxBytes}` } };
    const bytes = new Uint8Array(st.size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break; // truncated while reading: index what is there; the next refresh sees the new stat
      filled += bytesRead;
    }
    const data = filled === bytes.length ? bytes : bytes.subarray(0, filled);
    const limits = { ...DEFAULT_CONTENT_LIMITS, ...options.contentLimits };
    const byContent = classifyContent(file.path, data, limits);
    if (byContent) return { ok: false, skip: { path: file.path, ...byContent } };
    return { ok: true, bytes: data, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    return { ok: false, skip: ioSkip(file.path, err) };
  } finally {
    await handle.close();
  }
}

export type WalkItem = { file: WalkFile; bytes: Uint8Array } | { skip: Skip };

/** Lists then reads every file: yields each file's bytes, or its skip. Listing skips come first. */
export async function* walkFiles(root: string, options: WalkOptions = {}): AsyncGenerator<WalkItem> {
  const { files, skipped } = await listFiles(root, options);
  for (const skip of skipped) yield { skip };
  for (const file of files) {
    options.signal?.throwIfAborted();
    const r = await readWalkFile(file, options);
    if (r.ok) yield { file: { ...file, size: r.size, mtimeMs: r.mtimeMs }, bytes: r.bytes };
    else yield { skip: r.skip };
  }
}
