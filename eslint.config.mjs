// Lint enforces the layers of DESIGN.md: imports point down only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = [
  'node:*',
  'fs',
  'fs/*',
  'path',
  'os',
  'child_process',
  'worker_threads',
  'crypto',
  'zlib',
  'url',
  'util',
  'stream',
  'events',
  'readline',
];
const pattern = (group, message) => ({ group, message });

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'test-results/**',
      '.bench/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // core: pure TypeScript — no vscode, no DOM, no Node built-ins.
    files: ['src/core/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['vscode'], 'src/core is pure: no vscode.'),
            pattern(nodeBuiltins, 'src/core is pure: no Node built-ins (pass a ByteSource).'),
            pattern(
              ['**/runtime/**', '**/extension/**', '**/cli/**', '**/protocol/**', '**/webview/**'],
              'src/core imports only src/core.',
            ),
          ],
        },
      ],
      'no-restricted-globals': ['error', 'window', 'document', 'process', 'Buffer', 'require'],
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['vscode'], 'src/protocol is shared with webviews and workers: no vscode.'),
            pattern(nodeBuiltins, 'src/protocol is shared with webviews: no Node built-ins.'),
            pattern(
              ['**/runtime/**', '**/extension/**', '**/cli/**', '**/webview/**'],
              'src/protocol imports only core types.',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/runtime/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['vscode'], 'runtime and cli run outside VS Code: no vscode.'),
            pattern(
              ['**/extension/**', '**/webview/**'],
              'runtime and cli do not import the extension or webviews.',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['vscode'], 'webviews use acquireVsCodeApi, not the vscode module.'),
            pattern(nodeBuiltins, 'webviews run in a browser: no Node built-ins.'),
            pattern(
              ['**/runtime/**', '**/extension/**', '**/cli/**'],
              'webviews import only protocol and core.',
            ),
          ],
        },
      ],
    },
  },
);
