import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.stack/**',
      '.build/**',
      'dist/**',
      'db/migrations/**',
      'integrations/*/histories/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic and free of I/O.
    files: ['workflows/**/*.ts', 'integrations/*/workflow.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'os', 'child_process'],
              message: 'Workflows are deterministic: no Node built-ins.',
            },
            {
              group: ['@aws-sdk/*', 'drizzle-orm', 'drizzle-orm/*', 'postgres', 'undici', 'pino'],
              message: 'Workflows do no I/O: call an activity.',
            },
            {
              group: ['**/activities/*', '!**/activities/types.js'],
              message: 'Import activity types only, through proxyActivities.',
            },
            {
              group: ['**/db/*', '**/control-api/*', '**/workers/*'],
              message: 'Workflows depend on nothing but @temporalio/workflow and common/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The data plane never reaches the control database.
    files: ['workers/**/*.ts', 'activities/**/*.ts', 'integrations/*/activities.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/db/*',
                'drizzle-orm',
                'drizzle-orm/*',
                'postgres',
                '**/control-api/*',
                '!**/control-api/client',
              ],
              message: 'The data plane reaches the control plane only through its API and Temporal.',
            },
          ],
        },
      ],
    },
  },
);
