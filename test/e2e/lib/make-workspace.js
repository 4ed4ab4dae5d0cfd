#!/usr/bin/env node
// make-workspace.js DIR — the workspace the extension-host suite and every e2e module start from
// (test/e2e/CONTRACT.md, "What the runner does", step 2): sample-mlp.onnx generated and run once in
// onnxruntime-node, copies of ../shared/models/*.onnx(+.data) under models/ when ../shared is there,
// and invalid.onnx. Copies, not links: external data that resolves outside a model's folder is refused.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');

/** Absolute path of the team's shared folder: BIG_SHRINK_SHARED, else ../shared beside the checkout. */
function sharedDir() {
  return path.resolve(process.env.BIG_SHRINK_SHARED || path.join(ROOT, '..', 'shared'));
}

/** Absolute <shared>/models, or null when absent. */
function sharedModelsDir() {
  const models = path.join(sharedDir(), 'models');
  return fs.existsSync(models) ? models : null;
}

function makeWorkspace(ws) {
  fs.mkdirSync(ws, { recursive: true });
  execFileSync(
    'node',
    [path.join(ROOT, 'scripts', 'make-sample-model.js'), path.join(ws, 'sample-mlp.onnx'), '--check'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const shared = sharedModelsDir();
  if (shared) {
    fs.mkdirSync(path.join(ws, 'models'), { recursive: true });
    for (const f of fs.readdirSync(shared)) {
      if (/\.onnx(\.data)?$/.test(f)) fs.copyFileSync(path.join(shared, f), path.join(ws, 'models', f));
    }
  }
  fs.writeFileSync(path.join(ws, 'invalid.onnx'), 'This is not an ONNX model: the editor must say so.\n');
  return ws;
}

module.exports = { makeWorkspace, sharedDir, sharedModelsDir };

if (require.main === module) {
  if (!process.argv[2]) {
    console.error('usage: make-workspace.js DIR');
    process.exit(2);
  }
  makeWorkspace(path.resolve(process.argv[2]));
}
