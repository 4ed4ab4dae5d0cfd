// One build helper, one call per bundle (extension, worker, cli, webviews, tests).
// `--production` minifies and drops source maps; `--watch` rebuilds on change.
'use strict';
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const root = __dirname;

/** Every file under `dir` (relative to the root) whose name matches `re`. */
function find(dir, re) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true })
    .map(String)
    .filter((f) => re.test(f))
    .map((f) => path.join(dir, f));
}

/**
 * `import bytes from './x.wat'`: the WebAssembly text assembled by wabt (a pinned devDependency) at build
 * time, embedded in the bundle as a Uint8Array (esbuild's binary loader).
 */
const watPlugin = {
  name: 'wat',
  setup(build) {
    build.onLoad({ filter: /\.wat$/ }, async (args) => {
      const wabt = await require('wabt')();
      const parsed = wabt.parseWat(args.path, fs.readFileSync(args.path, 'utf8'), { simd: true });
      try {
        parsed.validate();
        return { contents: parsed.toBinary({}).buffer, loader: 'binary', watchFiles: [args.path] };
      } finally {
        parsed.destroy();
      }
    });
  },
};

const node = {
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode', 'onnxruntime-node', 'sharp'],
  plugins: [watPlugin],
};

/** The Node bundles in dist/: the extension and the worker threads it and the CLI start. */
const NODE_ENTRIES = {
  extension: 'src/extension/extension.ts',
  worker: 'src/runtime/worker/worker.ts',
  verifyWorker: 'src/runtime/verifyWorker.ts',
  sensitivityWorker: 'src/runtime/sensitivityWorker.ts',
  describeWorker: 'src/runtime/describeWorker.ts',
  dataAwareWorker: 'src/runtime/dataAwareWorker.ts',
  hashWorker: 'src/runtime/hashWorker.ts',
  quantizeWorker: 'src/runtime/quantizeWorker.ts',
  graphWorker: 'src/runtime/graphWorker.ts',
};

/** Build one bundle; entries that do not exist yet are skipped so partial trees still build. */
async function bundle(name, options) {
  const entries = Array.isArray(options.entryPoints)
    ? options.entryPoints
    : Object.values(options.entryPoints);
  if (entries.length === 0 || !entries.every((e) => fs.existsSync(path.join(root, e)))) return;
  const ctx = await esbuild.context({
    bundle: true,
    sourcemap: production ? false : 'linked',
    minify: production,
    logLevel: 'warning',
    absWorkingDir: root,
    ...options,
  });
  if (watch) {
    await ctx.watch();
    console.log(`[esbuild] watching ${name}`);
  } else {
    await ctx.rebuild();
    await ctx.dispose();
  }
}

async function main() {
  await Promise.all([
    ...Object.entries(NODE_ENTRIES).map(([name, entry]) =>
      bundle(name, { ...node, entryPoints: { [name]: entry }, outdir: 'dist' }),
    ),
    bundle('cli', {
      ...node,
      entryPoints: { cli: 'src/cli/main.ts' },
      outdir: 'dist',
      // A shell script first, JavaScript after: run as a program, sh exports glibc's settings that return
      // freed memory (src/runtime/returnFreedMemory.ts; a user's own values kept) and execs node on this
      // file; node skips the first line and reads the second as a string directive and a comment.
      banner: {
        js: [
          '#!/bin/sh',
          `':' //; export MALLOC_MMAP_THRESHOLD_="\${MALLOC_MMAP_THRESHOLD_:-131072}" MALLOC_TRIM_THRESHOLD_="\${MALLOC_TRIM_THRESHOLD_:-131072}"; exec node "$0" "$@"`,
        ].join('\n'),
      },
    }),
    bundle('webviews', {
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      entryPoints: Object.fromEntries(
        find('webview', /^[^/]+\/main\.ts$/).map((f) => [path.basename(path.dirname(f)), f]),
      ),
      outdir: 'dist/webview',
      loader: { '.css': 'text' },
    }),
    // Tests and benchmarks keep their folder layout under dist/test (test/unit/x.test.ts -> dist/test/unit/x.test.js).
    bundle('tests', {
      ...node,
      external: [...node.external, 'mocha', 'playwright-core'],
      entryPoints: [...find('test', /(\.test|\.e2e|[/\\]index|[/\\]bench|[/\\]main)\.ts$/)],
      outdir: 'dist/test',
      outbase: 'test',
    }),
  ]);
  if (fs.existsSync(path.join(root, 'dist/cli.js'))) fs.chmodSync(path.join(root, 'dist/cli.js'), 0o755);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
