// On-disk form of the workspace's lexical index (src/core/retrieve/lexical), next to the index snapshot.
//
// lexical.index  line 1: {magic, fingerprint, bodyBytes, bodyCrc32}; then LexicalIndex.toJSON(), gzipped
// (level 1: a third of the size for ~50 ms per 3 MB, in the thread pool). Written whole, atomically
// (temp file, fsync, rename: see ./store). It is a cache of what the chunk store already says: the index
// reconciles it with its chunk set when it opens (documents of chunks no longer indexed are removed,
// missing ones re-read from the files), so a file that lags behind the store (saved every few hundred
// changes, not on every save) or is lost only costs some reading.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32, gunzip, gzip } from 'node:zlib';
import { LexicalIndex } from '../retrieve/lexical';
import { writeFileAtomic } from './store';

const FILE = 'lexical.index';
const MAGIC = 'e2code-lexical';

export function lexicalPath(storeDir: string): string {
  return path.join(storeDir, FILE);
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

function crcHex(data: Buffer): string {
  return crc32(data).toString(16).padStart(8, '0');
}

/**
 * Reads the stored lexical index: null when there is none; throws (with the reason as message) when the
 * file is unusable (damaged, truncated, written for other indexing settings or another format).
 */
export async function readLexical(storeDir: string, fingerprint: string): Promise<LexicalIndex | null> {
  // Temp files of a write that was killed: never read, so just removed.
  for (const n of await fsp.readdir(storeDir).catch(() => [] as string[])) {
    if (n.startsWith(`${FILE}.`) && n.endsWith('.tmp')) await fsp.rm(path.join(storeDir, n), { force: true });
  }
  let raw: Buffer;
  try {
    raw = await fsp.readFile(lexicalPath(storeDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const nl = raw.indexOf(10);
  if (nl < 0) throw new Error('no header');
  let header: { magic?: unknown; fingerprint?: unknown; bodyBytes?: unknown; bodyCrc32?: unknown };
  try {
    header = JSON.parse(raw.toString('utf8', 0, nl));
  } catch {
    throw new Error('header is not JSON');
  }
  if (header.magic !== MAGIC) throw new Error('not an e2code word index');
  if (header.fingerprint !== fingerprint) throw new Error('indexing settings changed');
  const body = raw.subarray(nl + 1);
  if (body.length !== header.bodyBytes) throw new Error(`truncated: ${body.length} of ${String(header.bodyBytes)} bytes`);
  if (crcHex(body) !== header.bodyCrc32) throw new Error('checksum mismatch');
  let json: Buffer;
  try {
    json = await gunzipAsync(body);
  } catch {
    throw new Error('not gzip');
  }
  return LexicalIndex.fromJSONAsync(json.toString('utf8'));
}

export async function writeLexical(storeDir: string, fingerprint: string, lexical: LexicalIndex): Promise<void> {
  await fsp.mkdir(storeDir, { recursive: true });
  const body = await gzipAsync(Buffer.from(lexical.toJSON(), 'utf8'), { level: 1 });
  const header = `${JSON.stringify({ magic: MAGIC, fingerprint, bodyBytes: body.length, bodyCrc32: crcHex(body) })}\n`;
  await writeFileAtomic(lexicalPath(storeDir), Buffer.concat([Buffer.from(header, 'utf8'), body]));
}
