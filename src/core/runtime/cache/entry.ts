// One cache value: a chunk's soft tokens and encoder vector behind a 16-byte header (magic, CRC-32 of the
// payload, the two lengths). Shared by the cache and its probe process (./probeChild.ts), so both check
// entries the same way. No lmdb here: the probe imports this without opening anything.
import { crc32 } from 'node:zlib';

export interface SoftPromptEntry {
  /** [softTokensPerChunk * decoderHidden] */
  softTokens: Float32Array;
  /** [vectorsPerChunk * encoderHidden] */
  vector: Float32Array;
}

export const MAGIC = 0x50533245; // "E2SP"
export const HEADER_BYTES = 16;

export function cacheKey(bundleId: string, hash: string): string {
  return `${bundleId}\u0000${hash}`;
}

export function encodeEntry(entry: SoftPromptEntry): Buffer {
  const payloadBytes = (entry.softTokens.length + entry.vector.length) * 4;
  const buf = Buffer.alloc(HEADER_BYTES + payloadBytes);
  const floats = new Float32Array(buf.buffer, buf.byteOffset + HEADER_BYTES, payloadBytes / 4);
  floats.set(entry.softTokens, 0);
  floats.set(entry.vector, entry.softTokens.length);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 4);
  buf.writeUInt32LE(entry.softTokens.length, 8);
  buf.writeUInt32LE(entry.vector.length, 12);
  return buf;
}

/** Whether the bytes are an intact entry (header, length and checksum). */
export function isSoundEntry(buf: Uint8Array | undefined): boolean {
  if (!buf || buf.byteLength < HEADER_BYTES) return false;
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.readUInt32LE(0) !== MAGIC) return false;
  if (view.byteLength !== HEADER_BYTES + (view.readUInt32LE(8) + view.readUInt32LE(12)) * 4) return false;
  return crc32(view.subarray(HEADER_BYTES)) === view.readUInt32LE(4);
}

/** Undefined when the bytes are not an intact entry. */
export function decodeEntry(buf: Uint8Array): SoftPromptEntry | undefined {
  if (!isSoundEntry(buf)) return undefined;
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const nSoft = view.readUInt32LE(8);
  // Copy out: lmdb may reuse the buffer it returned.
  const bytes = new Uint8Array(view.subarray(HEADER_BYTES));
  const floats = new Float32Array(bytes.buffer);
  return { softTokens: floats.slice(0, nSoft), vector: floats.slice(nSoft) };
}
