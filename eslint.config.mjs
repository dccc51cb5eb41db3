// ESLint flat config for ferlab: `npm run lint` (CI runs it before the tests, .ci/run).
// js.configs.recommended + tseslint.configs.recommended, without type information (the type-checked configs
// need a full TypeScript program per run: too slow on the 2-core machines; `npm run typecheck` covers types).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    'node_modules/',
    'dist/',
    '.cache/',
    'runs/',
    'models/',
    'notebooks/',
    'data/',
    'test-output/',
    'docs/',
    // AssemblyScript sources (decorators on functions, i32/f32/v128 builtins): typescript-eslint cannot parse them
    'src/backend/wasm/assembly/',
  ]),
  {
    files: ['{src,test,scripts,experiments,sweeps,bench}/**/*.{ts,mts,cts}', 'eslint.config.mjs'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    linterOptions: {
      // a disable comment that no longer suppresses anything is a warning, not silent
      reportUnusedDisableDirectives: 'warn',
    },
    rules: {
      // `const { a: _a, ...rest } = x` drops keys on purpose (run configs, specs); other unused names stay errors
      '@typescript-eslint/no-unused-vars': [
        'error',
        { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // errors are rethrown as one user-facing message that folds in the cause (redacted where secrets may appear,
      // src/sweep/redis.ts); a `cause` chain would print the unredacted internals again
      'preserve-caught-error': 'off',
      // reference values are written with the 17 significant digits their source prints (mpmath, scipy): the
      // nearest double is the intent, and the digits let a reader check them against the source
      'no-loss-of-precision': 'off',
    },
  },
);
