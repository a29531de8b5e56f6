// Flat config: typescript-eslint's recommended rules over all TypeScript sources.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['bin/**', 'dist/**', 'media/dist/**', 'node_modules/**', '.vscode-test/**', 'models/**', 'test/fixtures/**', '**/.scratch*', 'test-results/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
