// How a workspace is chunked: one place, the bundle. Chunk size is the encoder's input length and chunks
// are measured with the encoder's tokenizer, so `e2code index`, `e2code ask`, the sidecar and the
// model-free index all build (and keep on disk) the very same index of a workspace.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BundleManifest } from '../../bundle/manifest';
import { parseManifest } from '../../bundle/validate';
import { TextTokenizer } from '../model/tokenizer';

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

/** The sizing of a bundle on disk, reading only its manifest and encoder tokenizer (no model is loaded). */
export function readSizing(bundlePath: string): ChunkSizing {
  const file = path.join(bundlePath, 'manifest.json');
  const m = parseManifest(readFileSync(file, 'utf8'), file);
  return sizingOf(m, TextTokenizer.fromFile(path.join(bundlePath, m.encoder.tokenizer)));
}
