// `e2code doctor`: what the runtime would use here — execution provider, bundle, cache, threads.
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { cudaProviderLibrary } from '../../core/runtime/model/providers';
import { VERSION } from '../../core/version';
import { addEngineOptions, defaultBundlePath, openEngine, type EngineFlags } from '../engineCli';

export function registerDoctor(program: Command): void {
  addEngineOptions(program.command('doctor').description('check the model runtime: provider, bundle, cache, threads'), false)
    .option('--json', 'print one JSON object')
    .action(async (flags: EngineFlags) => {
      const bundlePath = path.resolve(flags.bundle ?? defaultBundlePath());
      const engine = await openEngine(flags);
      try {
        const info = engine.info();
        const m = engine.bundle.manifest;
        const cache = engine.cache.stats();
        const report = {
          version: VERSION,
          node: process.version,
          provider: info.provider,
          providerNote: info.providerNote ?? null,
          requestedDevice: flags.device,
          cudaProviderLibrary: cudaProviderLibrary(),
          threads: flags.threads && flags.threads > 0 ? flags.threads : `onnxruntime default (${os.availableParallelism()} cores)`,
          bundle: {
            path: bundlePath,
            name: m.name,
            id: m.id,
            encoder: `${m.encoder.file} (hidden ${m.encoder.hiddenSize}, ${m.encoder.vectorsPerChunk} vectors/chunk, ranked by ${m.encoder.retrieval === 'last' ? 'the last' : 'their mean'}, max ${m.encoder.maxTokens} tokens)`,
            adapter: `${m.adapter.file} (${m.adapter.softTokensPerChunk} soft tokens/chunk)`,
            decoder: `${m.decoder.file} (hidden ${m.decoder.hiddenSize}, ${m.decoder.numLayers} layers, vocab ${m.decoder.vocabSize}, ${m.decoder.maxPositions} positions)`,
          },
          cache: {
            path: cache.path,
            mode: cache.mode,
            writing: cache.writing,
            entries: cache.entries,
            bytes: cache.bytes,
            maxBytes: cache.maxBytes,
          },
        };
        if (flags.json) {
          process.stdout.write(JSON.stringify(report) + '\n');
          return;
        }
        const lines = [
          `e2code ${report.version} on node ${report.node}`,
          `provider:  ${report.provider} (requested ${report.requestedDevice})${report.providerNote ? ` — ${report.providerNote}` : ''}`,
          `threads:   ${report.threads}`,
          `bundle:    ${m.name} (${m.id}) at ${bundlePath}`,
          `  encoder  ${report.bundle.encoder}`,
          `  adapter  ${report.bundle.adapter}`,
          `  decoder  ${report.bundle.decoder}`,
          `cache:     ${report.cache.path}: ${report.cache.entries} entries, ${(report.cache.bytes / 1e6).toFixed(1)} MB of ${(report.cache.maxBytes / 1e9).toFixed(1)} GB cap` +
            (report.cache.mode === 'write'
              ? report.cache.writing
                ? ''
                : ' (not caching now: its disk has no room)'
              : report.cache.mode === 'read'
                ? ' (read-only)'
                : ' (not used)'),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        await engine.close();
      }
    });
}
