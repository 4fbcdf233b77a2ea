// The lint `npm test` runs: a few type-aware rules for mistakes tsc lets through and that hurt a
// Temporal codebase most (a promise nobody awaits is a step, a compensation or a cleanup that may
// never run, or runs after the run has moved on). Deliberately no style rules: prettier formats.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.data/**', '.lab/**', 'archive/**', 'test-artifacts/**', 'bench/results/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      // One TypeScript program for the whole tree (tsconfig.json), as tsc builds it.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise neither awaited nor handed on: its failure is lost and its order is undefined
      // (in a workflow: a step or compensation that silently never completes). `void x` with a why, if meant.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async function where a void callback is expected (event handlers, setHandler, forEach):
      // nobody awaits it, so its rejection is unhandled.
      '@typescript-eslint/no-misused-promises': 'error',
      // `await` of something that is not a promise: usually a missing call or a wrong type.
      '@typescript-eslint/await-thenable': 'error',
      // `return promise` inside try/catch/finally skips the catch and runs the finally too early: the
      // compensation and cleanup paths of the engine depend on the await being there. (Only that: a
      // redundant `return await` elsewhere is left alone.)
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // Temporal turns thrown Errors into failures with a message, type and stack; a thrown string or
      // object loses them.
      '@typescript-eslint/only-throw-error': 'error',
      // The SDK marks what it will remove (e.g. searchAttributes, now typedSearchAttributes); so does zod.
      '@typescript-eslint/no-deprecated': 'error',
      // Async functions without await are fine (activities are async by contract).
      '@typescript-eslint/require-await': 'off',
    },
  },
);
