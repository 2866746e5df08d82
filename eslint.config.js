// ESLint (flat config) with typescript-eslint's type-checked rules that catch real bugs: a promise left
// floating or passed where a callback's result is ignored, a switch that misses a case of a union,
// awaiting what is not a promise, unused code. Layering (which folder may import which) is
// dependency-cruiser's job (.dependency-cruiser.cjs); formatting is not linted.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // The build's tsconfig leaves test files out; this one holds every file that is linted.
      parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // An async function without await is how an interface that returns a promise is met by code that
      // needs none: not a bug.
      '@typescript-eslint/require-await': 'off'
    }
  }
,
  {
    // Tests read Docker's JSON answers as `any` on purpose (ApiResult.body): the rules about unsafe
    // `any` stay for the product code; every rule about promises and exhaustiveness still applies.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off'
    }
  }
)
