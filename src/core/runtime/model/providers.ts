// Execution-provider choice. onnxruntime-node ships CPU binaries; its CUDA provider needs libraries
// that its install script downloads only when asked. `auto` tries CUDA and falls back to CPU (the
// binding throws when the provider library is absent); an explicit `cuda` request fails with the fix.
// This is the one module that creates sessions; ./telemetryOff.ts runs before onnxruntime-node loads.
import './telemetryOff';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { disableOrtTelemetry } from './telemetryOff';

export type DeviceChoice = 'auto' | 'cpu' | 'cuda';
export type ProviderName = 'cuda' | 'cpu';

export const CUDA_INSTALL_HINT =
  'onnxruntime-node loads its CUDA provider from libraries its install step downloads on request: run ' +
  '`npm_config_onnxruntime_node_install=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false` ' +
  '(equivalently `npm install onnxruntime-node --onnxruntime-node-install=cuda12`) on a machine with CUDA 12 and cuDNN 9, ' +
  'or use device "cpu"/"auto".';

export class ProviderError extends Error {
  readonly providerError = true;
  constructor(message: string) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface SessionChoice {
  device: DeviceChoice;
  threads: number;
  /**
   * onnxruntime's CPU memory arena (default on). The arena keeps the buffers of a run for the next runs,
   * growing by doubling, and holds them for the life of the session. It pays for the encoder's
   * same-shaped batches (18% slower to encode without it). The decoder's shapes change at every step,
   * and within its trained length (2,048 positions) the arena only holds memory: without it a warm answer
   * (479 positions) peaked at 199 MB instead of 218 (median of 5), at 1,933 positions equal; decode
   * within 4%, prefill equal. Past ~3k positions malloc fragments and the arena wins (32k positions:
   * 1,210 MB vs 1,300, 3x faster), which only benchmarks of full-text prompts reach.
   */
  memoryArena?: boolean;
}

function baseOptions(choice: SessionChoice): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    ...(choice.threads > 0 ? { intraOpNumThreads: choice.threads, interOpNumThreads: 1 } : {}),
    ...(choice.memoryArena === false ? { enableCpuMemArena: false } : {}),
    logSeverityLevel: 3,
  };
}

/**
 * A session over `file`, given as a path: onnxruntime reads the model itself, so no copy of its bytes
 * is held in JavaScript (from a Buffer, the loaded peak was 20 MB higher).
 */
export async function createSession(
  file: string,
  options: SessionChoice,
): Promise<{ session: ort.InferenceSession; provider: ProviderName; note?: string }> {
  // The library reads it when it creates its environment, at the first session: set whatever the caller did to process.env.
  disableOrtTelemetry();
  const opts = baseOptions(options);
  if (options.device === 'cpu') {
    return { session: await ort.InferenceSession.create(file, { ...opts, executionProviders: ['cpu'] }), provider: 'cpu' };
  }
  const libs = cudaProviderLibrary();
  if (libs.missing) {
    // Trying anyway would only make onnxruntime print a load error to stderr.
    const reason = `${libs.path} is not installed`;
    if (options.device === 'cuda') {
      throw new ProviderError(
        `device "cuda" was requested but the CUDA execution provider is not available (${reason}). ${CUDA_INSTALL_HINT}`,
      );
    }
    const session = await ort.InferenceSession.create(file, { ...opts, executionProviders: ['cpu'] });
    return { session, provider: 'cpu', note: `CUDA unavailable, using CPU (${reason})` };
  }
  try {
    // Severity 4 (fatal only): the failed provider load is expected under `auto` and explained below.
    const session = await ort.InferenceSession.create(file, { ...opts, logSeverityLevel: 4, executionProviders: ['cuda'] });
    return { session, provider: 'cuda' };
  } catch (err) {
    const reason = (err as Error).message;
    if (!isProviderLoadError(reason)) throw err;
    if (options.device === 'cuda') {
      throw new ProviderError(
        `device "cuda" was requested but the CUDA execution provider is not available (${reason}). ${CUDA_INSTALL_HINT}`,
      );
    }
    const session = await ort.InferenceSession.create(file, { ...opts, executionProviders: ['cpu'] });
    return { session, provider: 'cpu', note: `CUDA unavailable, using CPU (${reason})` };
  }
}

/** Where onnxruntime-node looks for its CUDA provider (next to its native binding). */
export function cudaProviderLibrary(): { path: string; missing: boolean } {
  let dir: string;
  try {
    // The main entry lives in dist/; the package root is above it.
    const pkg = path.dirname(path.dirname(require.resolve('onnxruntime-node')));
    dir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return { path: 'onnxruntime-node', missing: false };
  }
  const name = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const full = path.join(dir, name);
  return { path: full, missing: !existsSync(full) };
}

/** True for errors about the provider itself (library, driver, device), false for a bad model file. */
function isProviderLoadError(message: string): boolean {
  return /cuda|provider|shared librar|libcu|driver|device|backend/i.test(message);
}
