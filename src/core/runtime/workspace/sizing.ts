// How a workspace is chunked: one place, the bundle. Chunk size is the encoder's input length and chunks
// are measured with the encoder's tokenizer, so `e2code index`, `e2code ask`, the sidecar and the
// model-free index all build (and keep on disk) the very same index of a workspace.
import path from 'node:path';
import type { BundleManifest } from '../../bundle/manifest';
import { BundleError, parseManifest } from '../../bundle/validate';
import { TextTokenizer } from '../model/tokenizer';
import { FILE_CAPS, readRegularFile } from '../model/bundleFiles';

export interface ChunkSizing {
  /** Chunk token budget: the encoder's maxTokens. */
  chunkTokens?: number;
  countTokens?: (text: string) => number;
  /** Part of the index's fingerprint: a different bundle re-chunks. */
  tokenizerId?: string;
  /** Where the sizing came from, in words. */
  note: string;
}

export function sizingOf(manifest: BundleManifest, encoderTokenizer: TextTokenizer): ChunkSizing {
  return {
    chunkTokens: manifest.encoder.maxTokens,
    countTokens: (t) => encoderTokenizer.encodeUntrusted(t).length,
    tokenizerId: manifest.id,
    note: `chunks of ${manifest.encoder.maxTokens} tokens of ${manifest.encoder.tokenizer}`,
  };
}

/**
 * The sizing of a bundle on disk, reading only its manifest and encoder tokenizer (no model is loaded).
 * Both are read as the bundle loader reads them: only as regular files within their caps, so a FIFO or a
 * link to /dev/zero in a bundle is an error naming the file, not a hang.
 */
export function readSizing(bundlePath: string): ChunkSizing {
  const file = path.join(bundlePath, 'manifest.json');
  let text: string;
  try {
    text = readRegularFile(file, FILE_CAPS.manifest).toString('utf8');
  } catch (err) {
    throw new BundleError(`model bundle ${bundlePath}: manifest.json cannot be read: ${(err as Error).message}`, 'manifest.json');
  }
  const m = parseManifest(text, file);
  let tokenizer: TextTokenizer;
  try {
    tokenizer = TextTokenizer.fromFile(path.join(bundlePath, m.encoder.tokenizer));
  } catch (err) {
    throw new BundleError(
      `model bundle ${bundlePath}: ${m.encoder.tokenizer} (manifest "encoder.tokenizer") cannot be loaded: ${(err as Error).message}`,
      m.encoder.tokenizer,
      'encoder.tokenizer',
    );
  }
  return sizingOf(m, tokenizer);
}
