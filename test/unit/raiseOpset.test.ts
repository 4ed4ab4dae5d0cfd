import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type * as OrtTypes from 'onnxruntime-node';
import { usedNames } from '../../src/core/write/newNames';
import { planWrite } from '../../src/core/write/planWrite';
import { minIrVersion, planRaiseOpset } from '../../src/core/write/raiseOpset';
import { openModel } from '../../src/runtime/openModel';
import { writeModel } from '../../src/runtime/writeModel';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-opset-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Builds a model with onnx 1.12's helper: `nodes` and `outputs` are Python expressions. */
function build(
  name: string,
  opset: number,
  nodes: string,
  outputs: string,
  inputs = "[vi('X', [3, 8])]",
): string {
  const file = path.join(tmp, `${name}.onnx`);
  execFileSync('/usr/bin/python3', [
    '-c',
    `
import sys, onnx
from onnx import helper as h, TensorProto as T
vi = lambda n, s, t=T.FLOAT: h.make_tensor_value_info(n, t, s)
g = h.make_graph(${nodes}, 'g', ${inputs}, [vi(n, None) for n in ${outputs}])
m = h.make_model(g, opset_imports=[h.make_opsetid('', ${opset})])
m.ir_version = ${minIrVersion(opset)}
onnx.save(m, sys.argv[1])
`,
    file,
  ]);
  return file;
}

/** Raises the opset of `file` and writes it; returns the plan. */
function raise(file: string, target: number, minIr = 0) {
  const model = openModel(file);
  try {
    const r = planRaiseOpset(model.index, target, usedNames(model.index), minIr);
    if (r.refusals.length === 0 && r.edits.length > 0) {
      writeModel(
        planWrite(model.index, model.source, r.edits),
        model,
        file.replace(/\.onnx$/, '.raised.onnx'),
        {
          force: true,
        },
      );
    }
    return r;
  } finally {
    model.close();
  }
}

async function run(file: string, feeds: Record<string, OrtTypes.Tensor>) {
  const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled' });
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(
      Object.entries(out).map(([k, v]) => [
        k,
        { dims: [...v.dims], data: Array.from(v.data as Float32Array, Number) },
      ]),
    );
  } finally {
    await s.release();
  }
}

const x = () =>
  new ort.Tensor(
    'float32',
    Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.3) * 2),
    [3, 8],
  );

describe('planRaiseOpset: the raised model computes exactly what the original did (onnxruntime-node)', () => {
  it('opset 9 → 21: Slice, TopK, Clip, Pad, Softmax (axis 1 of rank 3), Dropout, Squeeze/Unsqueeze, Split, Reduce*', async () => {
    const file = build(
      'old9',
      9,
      `[
        h.make_node('Slice', ['X'], ['s'], axes=[1], starts=[2], ends=[9223372036854775807]),
        h.make_node('TopK', ['X'], ['tv', 'ti'], k=3, axis=1),
        h.make_node('Clip', ['X'], ['c'], min=-0.5, max=0.5),
        h.make_node('Clip', ['X'], ['c2'], max=0.25),
        h.make_node('Pad', ['X'], ['p'], pads=[0, 1, 0, 2], value=1.5),
        h.make_node('Pad', ['X'], ['p0'], pads=[1, 0, 0, 0]),
        h.make_node('Reshape', ['X', 'shape3'], ['X3']),
        h.make_node('Softmax', ['X3'], ['sm'], axis=1),
        h.make_node('LogSoftmax', ['X3'], ['lsm']),
        h.make_node('Softmax', ['X'], ['sm_last'], axis=1),
        h.make_node('Dropout', ['X'], ['d'], ratio=0.3),
        h.make_node('Unsqueeze', ['X'], ['u'], axes=[0]),
        h.make_node('Squeeze', ['u'], ['sq'], axes=[0]),
        h.make_node('Split', ['X'], ['sa', 'sb'], axis=1, split=[3, 5]),
        h.make_node('Split', ['X'], ['e1', 'e2'], axis=1),
        h.make_node('ReduceSum', ['X'], ['rs'], axes=[1]),
        h.make_node('ReduceMean', ['X'], ['rm'], axes=[1], keepdims=0),
        h.make_node('ReduceMax', ['X'], ['rx'], axes=[0]),
        h.make_node('ReduceMin', ['X'], ['rn']),
      ]`,
      "['s', 'tv', 'c', 'c2', 'p', 'p0', 'sm', 'lsm', 'sm_last', 'd', 'sq', 'sa', 'sb', 'e1', 'e2', 'rs', 'rm', 'rx', 'rn']",
      "[vi('X', [3, 8]), vi('shape3', [3], T.INT64)]",
    );
    const r = raise(file, 21);
    assert.deepEqual(r.refusals, []);
    assert.equal(r.from, 9);
    assert.equal(r.to, 21);
    const joined = r.changes.join('\n');
    for (const what of [
      'ai.onnx opset 9 → 21',
      'IR version 4 → 10',
      'Slice #0: starts/ends/axes attributes → inputs',
      'TopK #1: k attribute → input',
      'Clip #2: min/max attributes → inputs',
      'Pad #4: pads/value attributes → inputs',
      'Softmax #7: axis 1 kept as the pre-13',
      'LogSoftmax #8: axis 1 kept as the pre-13',
      'Dropout #10: ratio attribute dropped',
      'Split #13: split attribute → input',
      'Split #14: num_outputs = 2',
      'ReduceMean #16: axes attribute → input',
    ]) {
      assert.ok(joined.includes(what), `missing "${what}" in\n${joined}`);
    }
    assert.ok(!joined.includes('Softmax #9'), 'axis 1 of a rank-2 output is already the last axis');
    const feeds = { X: x(), shape3: new ort.Tensor('int64', BigInt64Array.from([2n, 3n, 4n]), [3]) };
    const before = await run(file, feeds);
    const after = await run(file.replace(/\.onnx$/, '.raised.onnx'), feeds);
    assert.deepEqual(after, before);
    const raised = openModel(file.replace(/\.onnx$/, '.raised.onnx'));
    try {
      assert.equal(raised.index.opsets.find((o) => o.domain === '')?.version, 21);
      assert.equal(raised.index.irVersion, 10);
    } finally {
      raised.close();
    }
  });

  it('opset 10 → 21: RoiAlign keeps its pre-16 coordinate mapping', async () => {
    const file = build(
      'roi10',
      10,
      "[h.make_node('RoiAlign', ['F', 'rois', 'idx'], ['y'], output_height=2, output_width=2, sampling_ratio=2, spatial_scale=0.5)]",
      "['y']",
      "[vi('F', [1, 2, 6, 6]), vi('rois', [2, 4]), vi('idx', [2], T.INT64)]",
    );
    const r = raise(file, 21);
    assert.deepEqual(r.refusals, []);
    const feeds = {
      F: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 72 }, (_, i) => Math.cos(i)),
        [1, 2, 6, 6],
      ),
      rois: new ort.Tensor('float32', Float32Array.from([1, 1, 7, 9, 0.5, 2, 5, 5]), [2, 4]),
      idx: new ort.Tensor('int64', BigInt64Array.from([0n, 0n]), [2]),
    };
    assert.deepEqual(await run(file.replace(/\.onnx$/, '.raised.onnx'), feeds), await run(file, feeds));
  });

  it('opset 16 → 21: GridSample mode bilinear becomes linear', async () => {
    const file = build(
      'grid16',
      16,
      "[h.make_node('GridSample', ['F', 'G'], ['y'], mode='bilinear', align_corners=1)]",
      "['y']",
      "[vi('F', [1, 1, 4, 4]), vi('G', [1, 3, 3, 2])]",
    );
    const r = raise(file, 21);
    assert.ok(r.changes.some((c) => c.includes('mode bilinear → linear')));
    const feeds = {
      F: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 16 }, (_, i) => i),
        [1, 1, 4, 4],
      ),
      G: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 18 }, (_, i) => Math.sin(i) * 0.9),
        [1, 3, 3, 2],
      ),
    };
    assert.deepEqual(await run(file.replace(/\.onnx$/, '.raised.onnx'), feeds), await run(file, feeds));
  });
});

describe('planRaiseOpset refusals and no-ops', () => {
  it('refuses ops whose meaning changes with no local rewrite, and models older than opset 9', () => {
    const cases: [string, number, string, string, RegExp][] = [
      [
        'upsample',
        9,
        "[h.make_node('Upsample', ['X', 'sc'], ['y'])]",
        "[vi('X', [1, 1, 2, 2]), vi('sc', [4])]",
        /Upsample .*deprecated/,
      ],
      [
        'resize10',
        10,
        "[h.make_node('Resize', ['X', 'sc'], ['y'])]",
        "[vi('X', [1, 1, 2, 2]), vi('sc', [4])]",
        /Resize .*coordinate/,
      ],
      [
        'groupnorm',
        18,
        "[h.make_node('GroupNormalization', ['X', 's', 'b'], ['y'], num_groups=1)]",
        "[vi('X', [1, 2, 2]), vi('s', [1]), vi('b', [1])]",
        /GroupNormalization/,
      ],
      ['old8', 8, "[h.make_node('Relu', ['X'], ['y'])]", "[vi('X', [2])]", /opset 8: re-export/],
    ];
    for (const [name, opset, nodes, inputs, why] of cases) {
      const r = raise(build(name, opset, nodes, "['y']", inputs), 21);
      assert.equal(r.refusals.length, 1, name);
      assert.match(r.refusals[0], why);
      assert.ok(!fs.existsSync(path.join(tmp, `${name}.raised.onnx`)), 'nothing written');
    }
  });

  it('leaves a model already at the target opset alone, but can still raise its IR version', () => {
    const file = build('at19', 19, "[h.make_node('Relu', ['X'], ['y'])]", "['y']");
    const same = raise(file, 13);
    assert.deepEqual(same.edits, []);
    // int4 needs IR 10 even where the opset is already high enough.
    const ir = raise(file, 19, 10);
    assert.deepEqual(ir.edits, [{ kind: 'setIrVersion', version: 10 }]);
  });

  it('knows the IR version each opset came with', () => {
    assert.deepEqual([9, 11, 13, 15, 19, 21].map(minIrVersion), [4, 6, 7, 8, 9, 10]);
  });
});
