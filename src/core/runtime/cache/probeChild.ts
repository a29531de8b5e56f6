// The cache probe: a program run in a short-lived child process (see ./probe.ts) that opens an existing
// cache and reads it the way the cache does, so that a damaged file crashes this process and not the
// caller (lmdb maps the file into memory: a truncated file raises SIGBUS, a damaged page SIGSEGV).
//
//   node probeChild.js <dir> quick|deep [--read-only] [--write-test]
//
// Prints one JSON object (ProbeReport) on success. Exit codes: 3 the file is shorter than lmdb's page
// count, 4 a malformed access record, 5 anything else that failed (message on stderr), 6 not allowed to
// open it (permissions, a read-only file system): not evidence of damage.
import { statSync } from 'node:fs';
import path from 'node:path';
import { open, type Key, type RootDatabase } from 'lmdb';
import { HEADER_BYTES, isSoundEntry } from './entry';

export interface ProbeOptions {
  /** Also read every value (see probe.ts). */
  deep: boolean;
  /** Open read-only and write nothing (a read-only directory, or too little space to write). */
  readOnly: boolean;
  /** Deep probes: commit and remove a group of entries as large as one the cache writes. */
  writeTest: boolean;
}

export interface ProbeReport {
  /** Deep probes: entries whose value was read, and how many of those failed their checksum. */
  entries: number;
  corrupt: number;
  /** Whether the deep probe's write test ran (skipped when read-only or short of space). */
  writeTest: boolean;
}

/** An error that ends the probe with this exit code. */
export class ProbeFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Entries in one write-test group, and the size of each (a large bundle's soft tokens and vectors). */
export const WRITE_TEST_ENTRIES = 256;
export const WRITE_TEST_ENTRY_BYTES = HEADER_BYTES + (4 * 1024 + 4 * 768) * 4;

export function runProbe(dir: string, options: ProbeOptions): ProbeReport {
  let root: RootDatabase;
  try {
    root = open({ path: dir, noSubdir: false, maxDbs: 4, mapSize: 64 * 1024 ** 3, readOnly: options.readOnly });
  } catch (err) {
    // Not allowed to open it is no evidence of damage; anything else failing to open it is.
    const code = (err as { code?: unknown }).code;
    const message = (err as Error).message;
    const denied =
      code === 1 || code === 13 || code === 30 || /EACCES|EPERM|EROFS|permission denied|read-only file system|not permitted/i.test(message);
    throw new ProbeFailure(`cannot open it: ${message}`, denied ? 6 : 5);
  }
  const st = root.getStats() as { lastPageNumber: number; pageSize: number };
  const size = statSync(path.join(dir, 'data.mdb')).size;
  const expected = (st.lastPageNumber + 1) * st.pageSize;
  if (size < expected) throw new ProbeFailure(`file is ${size} bytes, lmdb expects ${expected}`, 3);
  // Walking every key reads the B-tree's branch and leaf pages; the sum keeps the reads from being skipped.
  let n = 0;
  for (const name of ['soft-prompts', 'access']) {
    const db = root.openDB<Buffer, Key>({ name, encoding: 'binary' });
    for (const key of db.getKeys()) n += String(key).length & 1;
  }
  let entries = 0;
  let corrupt = 0;
  let writeTest = false;
  if (options.deep) {
    const values = root.openDB<Buffer, Key>({ name: 'soft-prompts', encoding: 'binary' });
    const bad: Key[] = [];
    const scanned = new Map<string, Key>(); // as text -> the key as the scan returned it (a string or its parts)
    for (const { key, value } of values.getRange()) {
      entries++;
      scanned.set(String(key), key);
      if (!isSoundEntry(value)) bad.push(key);
    }
    corrupt = bad.length;
    const access = root.openDB<{ t: unknown; n: unknown }, Key>({ name: 'access', encoding: 'msgpack' });
    const records: [Key, { t: unknown; n: unknown }][] = [];
    let unscanned = 0;
    let lost = 0;
    const found = new Set<string>(); // values keys (as text) a lookup found
    for (const { key, value } of access.getRange()) {
      if (!value || typeof value.t !== 'number' || typeof value.n !== 'number') {
        throw new ProbeFailure(`access record ${JSON.stringify(String(key))} is malformed`, 4);
      }
      records.push([key, value]);
      if (!access.doesExist(key)) lost++;
      const v = values.getBinary(key);
      if (v !== undefined) {
        n += v.length & 1;
        found.add(String(key));
        unscanned += scanned.has(String(key)) ? 0 : 1;
      }
    }
    // Scanned keys the loop above did not already find by lookup.
    for (const [text, key] of scanned) if (!found.has(text) && !values.doesExist(key)) lost++;
    // Damaged branch pages can hide entries from a scan that a lookup still finds; damaged keys in a
    // page break its order, so a lookup misses entries a scan still lists (writes then land in the wrong
    // place too). Such a tree is not repairable entry by entry.
    if (unscanned > 0 || lost > 0) {
      throw new ProbeFailure(
        `B-tree inconsistent: ${unscanned} entries found by lookup but not by a scan, ${lost} listed by a scan but not found by lookup`,
        5,
      );
    }
    if (!options.readOnly) {
      // The write path too: damage in page headers or the free list shows only when lmdb copies pages or
      // allocates new ones. So drop the entries that failed their checksum (the cache would drop them on
      // first read anyway) and rewrite every access record (copies each of their pages)...
      root.transactionSync(() => {
        for (const key of bad) {
          values.removeSync(key);
          access.removeSync(key);
        }
        for (const [key, value] of records) access.putSync(key, value);
      });
      // ...and, when the disk has room for it, commit then remove a group of entries as large as one the
      // cache writes (allocation from the free list and past the end of the file).
      if (options.writeTest) {
        const filler = Buffer.alloc(WRITE_TEST_ENTRY_BYTES, 1);
        root.transactionSync(() => {
          for (let i = 0; i < WRITE_TEST_ENTRIES; i++) values.putSync(`e2code-probe-${i}`, filler);
        });
        root.transactionSync(() => {
          for (let i = 0; i < WRITE_TEST_ENTRIES; i++) values.removeSync(`e2code-probe-${i}`);
        });
        writeTest = true;
      }
    }
  }
  if (!options.readOnly) {
    // A write transaction makes lmdb read and rewrite its free list (damage there shows only on write).
    root.putSync('e2code-probe', n);
    root.removeSync('e2code-probe');
  }
  root.close();
  return { entries, corrupt, writeTest };
}

function main(argv: string[]): void {
  const [dir, mode, ...flags] = argv;
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err?.message ?? String(err)}\n`);
    process.exit(err instanceof ProbeFailure ? err.exitCode : 5);
  });
  if (!dir || (mode !== 'quick' && mode !== 'deep'))
    throw new ProbeFailure('usage: probeChild <dir> quick|deep [--read-only] [--write-test]', 5);
  const report = runProbe(dir, {
    deep: mode === 'deep',
    readOnly: flags.includes('--read-only'),
    writeTest: flags.includes('--write-test'),
  });
  process.stdout.write(JSON.stringify(report));
  process.exit(0);
}

// Run as a program only as itself: bundled into dist/cli.js or dist/sidecar.js (through an import of its
// types' module), `require.main === module` is true there too.
if (require.main === module && /(probeChild\.ts|cacheProbe\.js)$/.test(process.argv[1] ?? '')) main(process.argv.slice(2));
