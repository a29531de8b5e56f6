// The model: a loaded bundle and what runs it — the encoder (chunk text -> vectors -> soft tokens), the
// prompt builder and the generator (KV-cached decoding). It knows nothing of workspaces: the same model
// serves every root (see ../workspace/workspaces.ts).
import type { Capability, Device, InitializeResult } from '../../protocol';
import type { BundleManifest } from '../../bundle/manifest';
import { Bundle } from './bundle';
import { Encoder } from '../encode/encoder';
import { retrievalVector } from '../encode/vectorSearch';
import { Generator } from '../decode/generator';
import { PromptBuilder } from '../decode/prompt';
import { sizingOf, type ChunkSizing } from '../workspace/sizing';

export interface ModelOptions {
  device?: Device;
  threads?: number;
}

export class Model {
  readonly encoder: Encoder;
  readonly generator: Generator;
  readonly builder: PromptBuilder;
  readonly sizing: ChunkSizing;

  private constructor(readonly bundle: Bundle) {
    this.encoder = new Encoder(bundle);
    this.generator = new Generator(bundle);
    this.builder = new PromptBuilder(bundle.manifest, bundle.decoderTokenizer, bundle.embeddings);
    this.sizing = sizingOf(bundle.manifest, bundle.encoderTokenizer);
  }

  static async load(bundlePath: string, options: ModelOptions = {}): Promise<Model> {
    return new Model(await Bundle.load(bundlePath, { device: options.device ?? 'auto', threads: options.threads ?? 0 }));
  }

  get id(): string {
    return this.bundle.id;
  }

  get manifest(): BundleManifest {
    return this.bundle.manifest;
  }

  /** What the bundle can do (manifest `capabilities`; a bundle that does not say can only locate). */
  get capabilities(): Capability[] {
    return this.bundle.manifest.capabilities ?? ['locate'];
  }

  can(capability: Capability): boolean {
    return this.capabilities.includes(capability);
  }

  info(): InitializeResult {
    return {
      bundleId: this.bundle.id,
      bundleName: this.bundle.manifest.name,
      provider: this.bundle.provider,
      ...(this.bundle.providerNote ? { providerNote: this.bundle.providerNote } : {}),
      capabilities: this.capabilities,
    };
  }

  /** The retrieval vector of a request, made from the encoder's pooled vectors as for chunks. */
  async queryVector(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const out = await this.encoder.encode([text], { signal });
    const enc = this.bundle.manifest.encoder;
    return retrievalVector(out.vectors[0], enc.vectorsPerChunk, enc.retrieval);
  }

  dispose(): Promise<void> {
    return this.bundle.dispose();
  }
}
