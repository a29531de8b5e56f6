// Which paths the walker leaves out by rule (as opposed to by content): gitignore semantics via the
// `ignore` package, layered the way git layers them, plus e2code's own layers on top.
//
// Precedence, highest first (the first layer that matches a path decides):
//   1. configured exclude globs (gitignore syntax, root-relative): always exclude;
//   2. `.git` directories: always excluded;
//   3. `.e2codeignore` files, deepest directory first: may exclude, and `!pattern` re-includes what a
//      lower layer excluded;
//   4. `.gitignore` files, deepest directory first, then `.git/info/exclude` (git's own order);
//   5. built-in default excludes (node_modules/, virtualenvs, VCS folders): a `.e2codeignore` `!rule` can
//      re-include them.
// As in git, a directory that is excluded is not entered, so a file inside it can only be re-included
// by re-including the directory too (`!build/` in `.e2codeignore`).
import ignore, { type Ignore } from 'ignore';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_EXCLUDES: readonly string[] = [
  'node_modules/',
  'bower_components/',
  '.hg/',
  '.svn/',
  '.venv/',
  'venv/',
  '__pycache__/',
  '.mypy_cache/',
  '.pytest_cache/',
  '.tox/',
  '.gradle/',
  '.idea/',
  '.DS_Store',
];

/** The common answer, shared (no allocation per file). */
const NOT_IGNORED: IgnoreDecision = Object.freeze({ ignored: false });

export interface IgnoreDecision {
  ignored: boolean;
  /** Which rule source decided (for per-file reports): `exclude`, `.git`, `<dir>/.e2codeignore`, ... */
  by?: string;
}

/**
 * `ig.test` also reports a path as ignored when one of its ancestor directories matches. The walker only
 * gets inside an ancestor that some layer excluded when a higher layer re-included it, so such inherited
 * matches are disregarded: only a rule matching the path itself counts.
 */
function testSelf(ig: Ignore, rel: string): { ignored: boolean; unignored: boolean } {
  const r = ig.test(rel);
  if (!r.ignored) return r;
  const parts = rel.split('/').filter(Boolean);
  for (let k = 1; k < parts.length; k++) {
    if (ig.ignores(`${parts.slice(0, k).join('/')}/`)) return { ignored: false, unignored: false };
  }
  return r;
}

function readRules(file: string): Ignore | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // Missing is the common case; an unreadable ignore file cannot be honoured either way.
    return null;
  }
  if (!text.trim()) return null;
  return ignore({ allowRelativePaths: true }).add(text);
}

/**
 * Patterns without an inner slash match a name at any depth, so testing just the basename is the same
 * decision and far cheaper (one cached test per distinct name instead of per path).
 */
function basenameOnly(patterns: readonly string[]): boolean {
  return patterns.every((p) => !p.replace(/\/+$/, '').includes('/') && !p.includes('**'));
}

export interface IgnoreRulesOptions {
  excludeGlobs?: readonly string[];
  defaultExcludes?: readonly string[];
  /** Honour .gitignore files and .git/info/exclude (default true). */
  useGitignore?: boolean;
}

/** The ignore files of one directory; `prefix` is the directory's relative path plus `/` ('' at the root). */
interface Layer {
  prefix: string;
  label: string;
  git: Ignore | null;
  e2c: Ignore | null;
}

export class IgnoreRules {
  /** Directory -> the layers that apply inside it, deepest first (only directories that have rules). */
  private readonly layers = new Map<string, readonly Layer[]>();
  private readonly exclude: Ignore | null;
  private readonly excludeByName: boolean;
  private readonly defaults: Ignore | null;
  private readonly defaultsByName: boolean;
  private infoExclude: Ignore | null | undefined;
  /** Memo of the by-name decisions (the ignore package re-validates every path before its own cache). */
  private readonly byNameMemo = new Map<string, number>();
  private readonly useGitignore: boolean;

  constructor(
    private readonly rootAbs: string,
    options: IgnoreRulesOptions = {},
  ) {
    const globs = (options.excludeGlobs ?? []).filter((g) => g.trim());
    this.exclude = globs.length ? ignore({ allowRelativePaths: true }).add([...globs]) : null;
    this.excludeByName = basenameOnly(globs);
    const defaults = options.defaultExcludes ?? DEFAULT_EXCLUDES;
    this.defaults = defaults.length ? ignore().add([...defaults]) : null;
    this.defaultsByName = basenameOnly(defaults);
    this.useGitignore = options.useGitignore ?? true;
  }

  /**
   * Reads (once) the ignore files of a workspace-relative directory (`''` is the root). `names`, when
   * the caller has just listed the directory, avoids trying to open files that are not there.
   */
  loadDir(relDir: string, names?: ReadonlySet<string>): readonly Layer[] {
    const cached = this.layers.get(relDir);
    if (cached) return cached;
    const parent = relDir === '' ? [] : this.loadDir(relDir.includes('/') ? relDir.slice(0, relDir.lastIndexOf('/')) : '');
    const abs = path.join(this.rootAbs, relDir);
    const git = this.useGitignore && (!names || names.has('.gitignore')) ? readRules(path.join(abs, '.gitignore')) : null;
    const e2c = !names || names.has('.e2codeignore') ? readRules(path.join(abs, '.e2codeignore')) : null;
    const own: Layer | null = git || e2c ? { prefix: relDir ? `${relDir}/` : '', label: relDir ? `${relDir}/` : '', git, e2c } : null;
    const layers = own ? [own, ...parent] : parent;
    this.layers.set(relDir, layers);
    return layers;
  }

  /** Forgets cached rules (after an ignore file changed). */
  invalidate(): void {
    this.layers.clear();
    this.infoExclude = undefined;
  }

  private gitInfoExclude(): Ignore | null {
    if (this.infoExclude === undefined) {
      this.infoExclude = this.useGitignore ? readRules(path.join(this.rootAbs, '.git', 'info', 'exclude')) : null;
    }
    return this.infoExclude;
  }

  /**
   * Decides one path. Its ancestor directories are assumed not excluded: the walker never enters
   * those (decideWithAncestors checks them for single paths).
   */
  decide(relPath: string, isDir: boolean): IgnoreDecision {
    const slash = relPath.lastIndexOf('/');
    const base = relPath.slice(slash + 1);
    const probe = isDir ? `${relPath}/` : relPath;
    const nameProbe = isDir ? `${base}/` : base;
    let byName = this.byNameMemo.get(nameProbe);
    if (byName === undefined) {
      byName =
        (this.exclude && this.excludeByName && this.exclude.ignores(nameProbe) ? 1 : 0) |
        (this.defaults && this.defaultsByName && this.defaults.ignores(nameProbe) ? 2 : 0);
      this.byNameMemo.set(nameProbe, byName);
    }
    if (this.exclude && ((byName & 1) !== 0 || (!this.excludeByName && this.exclude.ignores(probe))))
      return { ignored: true, by: 'exclude' };
    if (base === '.git') return { ignored: true, by: '.git' };

    const layers = this.loadDir(slash < 0 ? '' : relPath.slice(0, slash));
    for (const layer of layers) {
      if (!layer.e2c) continue;
      const r = testSelf(layer.e2c, probe.slice(layer.prefix.length));
      if (r.ignored) return { ignored: true, by: `${layer.label}.e2codeignore` };
      if (r.unignored) return { ignored: false, by: `${layer.label}.e2codeignore` };
    }
    for (const layer of layers) {
      if (!layer.git) continue;
      const r = testSelf(layer.git, probe.slice(layer.prefix.length));
      if (r.ignored) return { ignored: true, by: `${layer.label}.gitignore` };
      if (r.unignored) return { ignored: false };
    }
    const info = this.gitInfoExclude();
    const r = info && testSelf(info, probe);
    if (r?.ignored) return { ignored: true, by: '.git/info/exclude' };
    if (r?.unignored) return { ignored: false };
    if (this.defaults && ((byName & 2) !== 0 || (!this.defaultsByName && testSelf(this.defaults, probe).ignored))) {
      return { ignored: true, by: 'default excludes' };
    }
    return NOT_IGNORED;
  }

  /** Decides a path whose ancestors may themselves be excluded (single-path checks for editor events). */
  decideWithAncestors(relPath: string, isDir: boolean): IgnoreDecision {
    const parts = relPath.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = this.decide(parts.slice(0, i).join('/'), true);
      if (d.ignored) return d;
    }
    return this.decide(relPath, isDir);
  }
}

/** True for the names of files whose change invalidates ignore rules. */
export function isIgnoreFile(relPath: string): boolean {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1);
  return base === '.gitignore' || base === '.e2codeignore' || relPath === '.git/info/exclude';
}
