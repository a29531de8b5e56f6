// Rebuilds the recipe's corpus from models/recipe/corpus.json with the product's own walker and chunker,
// so that training sees exactly the chunk text the runtime encodes. Writes one JSONL line per file:
//   {repo, split, path, language, content, defs: [{name, line, kind, params, doc}], chunks: [...]}
// Usage: node --import tsx models/recipe/prep/build.ts --out <dir> --tokenizer <tokenizer.json>
//        [--max-tokens 128] [--max-files-per-repo N] [--split train|heldout] [--repos a,b,c] [--with-more]
// --with-more: corpus.json's train_more repositories follow train's in train.jsonl (not in train.sh's corpus).
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { createChunker } from '../../../src/core/chunker';
import { walkFiles } from '../../../src/core/walker';
import { extractFacts } from './facts';

interface RepoSpec {
  name: string;
  root: string;
  dir: string;
  flat?: boolean;
}

const SOURCE_LANGS = new Set(['python', 'javascript', 'typescript']);

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`missing --${name}`);
  return fallback;
}

async function main(): Promise<void> {
  const recipeDir = path.resolve(__dirname, '..');
  const repoRoot = path.resolve(recipeDir, '../..');
  const corpus = JSON.parse(readFileSync(path.join(recipeDir, 'corpus.json'), 'utf8'));
  const out = arg('out');
  const maxTokens = Number(arg('max-tokens', '128'));
  const maxFiles = Number(arg('max-files-per-repo', '100000'));
  const onlySplit = arg('split', '');
  const onlyRepos = new Set(arg('repos', '').split(',').filter(Boolean));
  const withMore = process.argv.includes('--with-more');
  const tok = new Tokenizer(JSON.parse(readFileSync(arg('tokenizer'), 'utf8')), {});
  const countTokens = (t: string) => tok.encode(t, { add_special_tokens: false }).ids.length;
  const chunker = await createChunker({ maxTokens, countTokens });
  mkdirSync(out, { recursive: true });
  const excludes: string[] = corpus.exclude.map((e: string) => `${e}/`);
  for (const split of ['train', 'heldout'] as const) {
    if (onlySplit && split !== onlySplit) continue;
    const sink = createWriteStream(path.join(out, `${split}.jsonl`));
    let files = 0;
    let chunks = 0;
    const repos: RepoSpec[] = split === 'train' && withMore ? [...corpus.train, ...(corpus.train_more ?? [])] : corpus[split];
    for (const repo of repos) {
      if (onlyRepos.size && !onlyRepos.has(repo.name)) continue;
      const rootSpec: string = corpus.roots[repo.root];
      const base = path.resolve(path.isAbsolute(rootSpec) ? rootSpec : path.join(repoRoot, rootSpec), repo.dir);
      // A flat repository is the top-level modules of a directory only.
      const excludeGlobs = repo.flat ? [...excludes, '/*/'] : excludes;
      let n = 0;
      for await (const item of walkFiles(base, { excludeGlobs, maxFileBytes: 200_000 })) {
        if (!('file' in item) || n >= maxFiles) continue;
        const rel = item.file.path;
        const language = chunker.languageOf(rel);
        if (!SOURCE_LANGS.has(language) || rel.endsWith('.d.ts')) continue;
        const content = Buffer.from(item.bytes).toString('utf8');
        const fileChunks = await chunker.chunkFile(rel, item.bytes);
        const record = {
          repo: repo.name,
          split,
          path: rel,
          language,
          content,
          ...(await extractFacts(content, language)),
          chunks: fileChunks.map((c) => ({
            startByte: c.startByte,
            endByte: c.endByte,
            startLine: c.startLine,
            endLine: c.endLine,
            kind: c.kind,
            symbolPath: c.symbolPath,
            symbols: c.symbols,
            text: c.text,
          })),
        };
        sink.write(JSON.stringify(record) + '\n');
        n++;
        chunks += fileChunks.length;
      }
      files += n;
    }
    await new Promise<void>((resolve) => sink.end(resolve));
    console.log(`${split}: ${files} files, ${chunks} chunks -> ${path.join(out, `${split}.jsonl`)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
