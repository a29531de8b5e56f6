// Standalone chunker fuzzer: runs the property of test/fuzz/lib.ts for a longer budget than the test run
// and saves any (shrunk) failing case to test/fuzz/corpus/chunker/, where the test run replays it.
//
//   node --import tsx test/fuzz/run.ts [--seconds 60] [--seed 1234] [--real-tokenizer]
//
// --real-tokenizer counts tokens with the bundled model's tokenizer (models/default/tokenizer.json), as
// the runtime does, instead of the chunker's length estimate.
import path from 'node:path';
import { createChunker } from '../../src/core/chunker/index';
import { TextTokenizer } from '../../src/core/runtime/model/tokenizer';
import { REPO, fuzzChunker, saveCorpusCase } from './lib';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Number(arg('--seconds') ?? 60);
  const seed = Number(arg('--seed') ?? Date.now() % 2 ** 31);
  const realTokenizer = args.includes('--real-tokenizer');
  let countTokens: ((t: string) => number) | undefined;
  if (realTokenizer) {
    const tok = TextTokenizer.fromFile(path.join(REPO, 'models', 'default', 'tokenizer.json'));
    countTokens = (t) => tok.encode(t).length;
  }
  const chunker = await createChunker({ maxTokens: realTokenizer ? 128 : 256, countTokens });
  const stats = await fuzzChunker(chunker, seconds, seed);
  const summary = {
    seed,
    seconds,
    tokenizer: realTokenizer ? 'models/default' : 'estimate',
    cases: stats.cases,
    megabytes: Math.round((stats.bytes / 1e6) * 100) / 100,
    byKind: stats.byKind,
    slowestMs: Math.round(stats.slowestMs),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (stats.failure) {
    const f = stats.failure;
    const saved = saveCorpusCase(f.ext, f.bytes, `fuzz seed ${f.seed} path ${f.path}: ${f.error}`);
    process.stderr.write(`FAILURE: ${f.error}\nsaved to ${path.relative(REPO, saved)}\n`);
    process.exitCode = 1;
  }
}

void main();
