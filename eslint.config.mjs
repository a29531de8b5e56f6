// Flat config: typescript-eslint's recommended rules over all TypeScript sources.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'bin/**',
      'dist/**',
      'media/dist/**',
      'node_modules/**',
      '.vscode-test/**',
      'models/default/**',
      'models/recipe/.venv/**',
      'models/recipe/work/**',
      'test/fixtures/**',
      '**/.scratch*',
      'test-results/**',
      'bench/results/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
