// Usage: node --import tsx models/recipe/checks/check-bundle.ts <bundle dir> [--tokens N]
// Loads the bundle in onnxruntime-node, reports parity against PyTorch and greedy-generates a few tokens.
import { loadBundle, checkParity, generate } from './bundle';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: check-bundle.ts <bundle dir> [--tokens N]');
  const ti = process.argv.indexOf('--tokens');
  const maxNew = ti > 0 ? Number(process.argv[ti + 1]) : 8;
  const t0 = Date.now();
  const bundle = await loadBundle(dir);
  const loadMs = Date.now() - t0;
  const parity = await checkParity(bundle);
  const t1 = Date.now();
  const gen = await generate(
    bundle,
    [{ path: 'calc.py', chunkTexts: ['calc.py\ndef add(a, b):\n    """Return the sum."""\n    return a + b\n'] }],
    [{ path: 'calc.py', line: 1, code: 'def add(a, b):\n    """Return the sum."""\n    return a + b' }],
    'Where is add defined?',
    maxNew,
  );
  console.log(
    JSON.stringify({
      id: bundle.manifest.id,
      loadMs,
      parity,
      generated: gen.text,
      generatedIds: gen.ids,
      positions: gen.positions,
      generateMs: Date.now() - t1,
    }),
  );
  if (!(parity.max < 1e-3)) {
    console.error(`parity failed: max abs diff ${parity.max}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
