// Runs the cache probe (./probeChild.ts) in a child process and reads its verdict. From the sources (tsx:
// tests, development) the child runs probeChild.ts through tsx; from a bundle (dist/cli.js,
// dist/sidecar.js) it runs dist/cacheProbe.js, the same module bundled by scripts/build.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProbeOptions, ProbeReport } from './probeChild';

/** What a probe of an existing cache found. */
export interface ProbeResult {
  /** What is wrong with the file (the cache must be moved aside), or undefined when it is sound. */
  problem?: string;
  /** The probe was not allowed to open the environment (permissions, a read-only file system): not damage. */
  unopenable?: boolean;
  /** Why no probe ran (its program is missing from this installation); the cache opens unguarded. */
  skipped?: string;
  /** Deep probes: entries whose value was read, and how many of those failed their checksum. */
  entries?: number;
  corrupt?: number;
  /** Whether the deep probe's write test ran. */
  writeTest?: boolean;
}

/** The command that runs the probe program, or why there is none. */
export function probeCommand(): { args: string[] } | { missing: string } {
  if (__filename.endsWith('.ts')) {
    const child = path.join(__dirname, 'probeChild.ts');
    let tsx: string;
    try {
      tsx = pathToFileURL(require.resolve('tsx')).href;
    } catch {
      return { missing: `the cache probe ${child} needs tsx, which is not installed` };
    }
    return { args: ['--import', tsx, child] };
  }
  // Bundled: this code lives in dist/<entry>.js, next to dist/cacheProbe.js.
  const child = path.join(__dirname, 'cacheProbe.js');
  if (!existsSync(child)) return { missing: `this installation has no cache probe program next to ${__filename}` };
  return { args: [child] };
}

/**
 * lmdb maps its file into memory: a truncated or damaged file can kill the process that reads it
 * (SIGBUS past the end of a truncated file, SIGSEGV on a damaged meta or B-tree page) instead of
 * throwing. So an existing cache is opened first in a short-lived child process. The quick probe (every
 * open) checks the file size against lmdb's own page count, walks every key (the B-tree's branch and leaf
 * pages) and commits one write (the free list). The deep probe (after an unclean shutdown or a change
 * behind the cache's back: see SoftPromptCache.open) also reads every value, once in key order and once
 * by key lookup from each access record (the two paths the cache itself reads by), and checks each
 * entry's checksum: damage in value or overflow pages crashes the child, not the caller. Read-only
 * probes write nothing; the deep probe's group write runs only where the disk has room for it.
 */
export function probeCache(dir: string, options: Partial<ProbeOptions> = {}): string | undefined {
  return probeCacheDetailed(dir, options).problem;
}

export function probeCacheDetailed(dir: string, options: Partial<ProbeOptions> = {}): ProbeResult {
  const command = probeCommand();
  if ('missing' in command) return { skipped: command.missing };
  const flags = [...(options.readOnly ? ['--read-only'] : []), ...(options.writeTest ? ['--write-test'] : [])];
  const r = spawnSync(process.execPath, [...command.args, dir, options.deep ? 'deep' : 'quick', ...flags], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    encoding: 'utf8',
    timeout: options.deep ? 600_000 : 120_000,
  });
  if (r.error) return { skipped: `the cache probe could not run (${r.error.message})` };
  if (r.status === 0) {
    try {
      return JSON.parse(r.stdout) as ProbeReport;
    } catch {
      // It ended without its result: a write that never settled (lmdb on damaged pages) emptied its event loop.
      return { problem: 'a probe process stopped before it finished (a write never completed)' };
    }
  }
  const why = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? '';
  if (r.status === 6) return { problem: why, unopenable: true };
  return { problem: r.signal ? `reading it crashed a probe process with ${r.signal}` : why || `probe exited with code ${r.status}` };
}
