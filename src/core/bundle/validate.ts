// Validation of a bundle's manifest.json against the contract in ../bundle/manifest.ts. Hand-written
// because the contract is small and every error must name the exact field; a schema library would
// add a dependency for ~60 lines.
import type { Capability } from '../protocol';
import { MANIFEST_FORMAT_VERSION, type BundleManifest, type ContextOrder, type RetrievalVector } from './manifest';

export class BundleError extends Error {
  constructor(
    message: string,
    /** The bundle file the problem is in, relative to the bundle directory. */
    readonly file: string,
    /** The field (dotted path) or tensor the problem is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'BundleError';
  }
}

type Json = Record<string, unknown>;

const CAPABILITIES: readonly Capability[] = ['locate', 'explain', 'summarize', 'generate'];

function capabilities(v: unknown, fail: (field: string, what: string) => never): Capability[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && (CAPABILITIES as readonly string[]).includes(x))) {
    fail('capabilities', `must be an array of ${CAPABILITIES.map((c) => `"${c}"`).join(', ')}`);
  }
  return [...new Set(v as Capability[])];
}

export function parseManifest(text: string, where: string): BundleManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${where}: not valid JSON (${(err as Error).message})`, 'manifest.json');
  }
  const fail = (field: string, what: string): never => {
    throw new BundleError(`${where}: field "${field}" ${what}`, 'manifest.json', field);
  };
  const obj = (v: unknown, field: string): Json =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : fail(field, 'must be an object');
  const str = (o: Json, key: string, prefix: string, allowEmpty = false): string => {
    const v = o[key];
    if (typeof v !== 'string' || (!allowEmpty && v.length === 0))
      fail(prefix + key, allowEmpty ? 'must be a string' : 'must be a non-empty string');
    return v as string;
  };
  const posInt = (o: Json, key: string, prefix: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      fail(prefix + key, `must be a positive integer (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const file = (o: Json, key: string, prefix: string): string => {
    const v = str(o, key, prefix);
    if (v.includes('..') || v.startsWith('/') || v.includes('\\'))
      fail(prefix + key, 'must be a plain file name inside the bundle directory');
    return v;
  };

  const contextOrder = (v: unknown): ContextOrder =>
    v === 'repository' || v === 'relevance'
      ? v
      : fail('decoder.contextOrder', `must be "repository" or "relevance" (got ${JSON.stringify(v)})`);

  const recapChunks = (v: unknown): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 16
      ? v
      : fail('decoder.recapChunks', `must be an integer from 0 to 16 (got ${JSON.stringify(v)})`);

  const retrieval = (v: unknown): RetrievalVector =>
    v === 'mean' || v === 'last' ? v : fail('encoder.retrieval', `must be "mean" or "last" (got ${JSON.stringify(v)})`);

  const m = obj(raw, '(root)');
  if (m.formatVersion !== MANIFEST_FORMAT_VERSION) {
    fail(
      'formatVersion',
      `must be ${MANIFEST_FORMAT_VERSION} (got ${JSON.stringify(m.formatVersion)}); this runtime reads format ${MANIFEST_FORMAT_VERSION}`,
    );
  }
  const enc = obj(m.encoder, 'encoder');
  const ad = obj(m.adapter, 'adapter');
  const dec = obj(m.decoder, 'decoder');
  const emb = obj(dec.embeddings, 'decoder.embeddings');
  if (emb.dtype !== 'float32' && emb.dtype !== 'float16')
    fail('decoder.embeddings.dtype', `must be "float32" or "float16" (got ${JSON.stringify(emb.dtype)})`);
  const ct = obj(m.chatTemplate, 'chatTemplate');
  const chatTemplate = {
    system: str(ct, 'system', 'chatTemplate.', true),
    user: str(ct, 'user', 'chatTemplate.', true),
    assistant: str(ct, 'assistant', 'chatTemplate.', true),
    endOfTurn: str(ct, 'endOfTurn', 'chatTemplate.', true),
    contextStart: str(ct, 'contextStart', 'chatTemplate.', true),
    contextEnd: str(ct, 'contextEnd', 'chatTemplate.', true),
    fileHeader: str(ct, 'fileHeader', 'chatTemplate.', true),
    textChunkHeader: str(ct, 'textChunkHeader', 'chatTemplate.', true),
  };
  if (!chatTemplate.user.includes('{content}')) fail('chatTemplate.user', 'must contain {content}');
  if (!chatTemplate.fileHeader.includes('{path}')) fail('chatTemplate.fileHeader', 'must contain {path}');
  if (!chatTemplate.textChunkHeader.includes('{path}')) fail('chatTemplate.textChunkHeader', 'must contain {path}');

  const special = obj(m.specialTokens ?? {}, 'specialTokens');
  for (const [k, v] of Object.entries(special)) if (typeof v !== 'string') fail(`specialTokens.${k}`, 'must be a string');
  if (!Array.isArray(m.eosTokenIds) || m.eosTokenIds.length === 0 || !m.eosTokenIds.every((x) => Number.isInteger(x) && x >= 0)) {
    fail('eosTokenIds', 'must be a non-empty array of token ids');
  }

  const manifest: BundleManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: str(m, 'name', ''),
    id: str(m, 'id', ''),
    encoder: {
      file: file(enc, 'file', 'encoder.'),
      tokenizer: file(enc, 'tokenizer', 'encoder.'),
      maxTokens: posInt(enc, 'maxTokens', 'encoder.'),
      hiddenSize: posInt(enc, 'hiddenSize', 'encoder.'),
      vectorsPerChunk: posInt(enc, 'vectorsPerChunk', 'encoder.'),
      ...(enc.retrieval !== undefined ? { retrieval: retrieval(enc.retrieval) } : {}),
    },
    adapter: {
      file: file(ad, 'file', 'adapter.'),
      softTokensPerChunk: posInt(ad, 'softTokensPerChunk', 'adapter.'),
    },
    decoder: {
      file: file(dec, 'file', 'decoder.'),
      tokenizer: file(dec, 'tokenizer', 'decoder.'),
      hiddenSize: posInt(dec, 'hiddenSize', 'decoder.'),
      numLayers: posInt(dec, 'numLayers', 'decoder.'),
      numKeyValueHeads: posInt(dec, 'numKeyValueHeads', 'decoder.'),
      headDim: posInt(dec, 'headDim', 'decoder.'),
      vocabSize: posInt(dec, 'vocabSize', 'decoder.'),
      maxPositions: posInt(dec, 'maxPositions', 'decoder.'),
      ...(dec.contextPositions !== undefined ? { contextPositions: posInt(dec, 'contextPositions', 'decoder.') } : {}),
      ...(dec.contextOrder !== undefined ? { contextOrder: contextOrder(dec.contextOrder) } : {}),
      ...(dec.recapChunks !== undefined ? { recapChunks: recapChunks(dec.recapChunks) } : {}),
      embeddings: { file: file(emb, 'file', 'decoder.embeddings.'), dtype: emb.dtype as 'float32' | 'float16' },
    },
    chatTemplate,
    specialTokens: special as Record<string, string>,
    eosTokenIds: m.eosTokenIds as number[],
    ...(m.capabilities !== undefined ? { capabilities: capabilities(m.capabilities, fail) } : {}),
    training: m.training && typeof m.training === 'object' ? (m.training as Record<string, unknown>) : {},
  };
  for (const id of manifest.eosTokenIds) {
    if (id >= manifest.decoder.vocabSize)
      fail('eosTokenIds', `id ${id} is outside the decoder vocabulary (vocabSize ${manifest.decoder.vocabSize})`);
  }
  return manifest;
}
