import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

export default ts.config(
  { ignores: ['dist/', 'e2e/.build/', 'node_modules/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      // Local scratch Maps/Sets (lookups built and dropped inside one function,
      // timers by id) are deliberately not reactive; reactive state uses
      // SvelteMap/SvelteSet explicitly.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig,
      },
    },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.svelte', 'tests/**/*.ts', 'e2e/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js', '.svelte'] } } },
    rules: {
      // Tiers: shared → domain folders → views; no cycles anywhere.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Only the IPC layer may talk to Tauri.
    files: ['src/**/*.ts', 'src/**/*.svelte'],
    ignores: ['src/lib/ipc/tauri.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@tauri-apps/*'],
              message: 'Only src/lib/ipc/tauri.ts talks to Tauri; use the Backend.',
            },
          ],
        },
      ],
    },
  },
  {
    // Shared components know nothing of the domains or views above them.
    files: ['src/components/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '../task/*',
                '../list/*',
                '../settings/*',
                '../vault/*',
                '../commands/*',
                '../../views/*',
              ],
              message: 'shared/ must not import domain components or views.',
            },
            { group: ['@tauri-apps/*'], message: 'Only src/lib/ipc/tauri.ts talks to Tauri.' },
          ],
        },
      ],
    },
  },
  {
    // Domain components never reach up into views.
    files: ['src/components/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../../views/*'], message: 'Components must not import views.' },
            { group: ['@tauri-apps/*'], message: 'Only src/lib/ipc/tauri.ts talks to Tauri.' },
          ],
        },
      ],
    },
  },
);
