#!/usr/bin/env node
// make-workspace.js DIR — the workspace the extension-host suite and every e2e module start from
// (test/e2e/CONTRACT.md, "What the runner does", step 2): sample-mlp.onnx generated and run once in
// onnxruntime-node, copies of the project's test models (test/models/*.onnx(+.data)) under models/,
// and invalid.onnx. Copies, not links: external data that resolves outside a model's folder is refused.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');

/** Absolute path of the project's test models (test/models, committed). */
function testModelsDir() {
  return path.join(ROOT, 'test', 'models');
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
  const models = testModelsDir();
  fs.mkdirSync(path.join(ws, 'models'), { recursive: true });
  for (const f of fs.readdirSync(models)) {
    if (/\.onnx(\.data)?$/.test(f)) fs.copyFileSync(path.join(models, f), path.join(ws, 'models', f));
  }
  fs.writeFileSync(path.join(ws, 'invalid.onnx'), 'This is not an ONNX model: the editor must say so.\n');
  return ws;
}

module.exports = { makeWorkspace, testModelsDir };

if (require.main === module) {
  if (!process.argv[2]) {
    console.error('usage: make-workspace.js DIR');
    process.exit(2);
  }
  makeWorkspace(path.resolve(process.argv[2]));
}
