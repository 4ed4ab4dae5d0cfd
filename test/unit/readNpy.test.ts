import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeFloat16 } from '../../src/core/tensor/float16';
import { NpyError, parseNpy, readNpy } from '../../src/runtime/readNpy';
import { verifyModels } from '../../src/runtime/verifyModels';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-npy-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Files numpy writes: every supported dtype, format versions 1/2/3, big-endian, scalar and empty shapes. */
const WRITE = `
import sys, json, numpy as np
from numpy.lib import format as F
d = sys.argv[1]
cases = {}
def save(name, a, version=None):
    with open(f'{d}/{name}.npy', 'wb') as f:
        if version: F.write_array(f, a, version=version)
        else: np.save(f, a)
    flat = a.reshape(-1)
    vals = flat.view(np.uint16).tolist() if a.dtype == np.float16 else [bool(v) if a.dtype == np.bool_ else (int(v) if a.dtype.kind in 'iu' else float(v)) for v in flat]
    cases[name] = {'descr': F.dtype_to_descr(a.dtype), 'shape': list(a.shape), 'values': [str(v) for v in vals]}
r = np.random.default_rng(5)
base = (r.standard_normal((2, 3, 4)) * 100)
save('f4', base.astype('<f4'))
save('f8', base.astype('<f8'))
save('f2', base.astype('<f2'))
save('i8', (base * 1e6).astype('<i8'))
save('i8_big', np.array([2**62 + 1, -2**63, 2**63 - 1], dtype='<i8'))
save('i4', base.astype('<i4'))
save('i2', base.astype('<i2'))
save('i1', (base / 2).astype('i1'))
save('u1', np.abs(base).astype('u1'))
save('u2', np.abs(base).astype('<u2'))
save('u4', np.abs(base).astype('<u4'))
save('u8', np.abs(base * 1e9).astype('<u8'))
save('b1', base > 0)
save('be_f4', base.astype('>f4'))
save('be_i8', base.astype('>i8'))
save('scalar', np.array(3.5, dtype='<f4'))
save('empty', np.zeros((0, 3), dtype='<f4'))
save('v2', base.astype('<f4'), version=(2, 0))
save('v3', base.astype('<f4'), version=(3, 0))
np.save(f'{d}/fortran.npy', np.asfortranarray(base.astype('<f4')))
np.save(f'{d}/structured.npy', np.zeros(3, dtype=[('a', '<f4'), ('b', '<i4')]))
np.save(f'{d}/object.npy', np.array([1, 'x'], dtype=object), allow_pickle=True)
np.save(f'{d}/complex.npy', np.zeros(2, dtype='<c8'))
json.dump(cases, open(f'{d}/cases.json', 'w'))
`;

describe('readNpy vs files written by numpy', () => {
  const dir = path.join(tmp, 'npy');
  let cases: Record<string, { descr: string; shape: number[]; values: string[] }>;
  before(() => {
    fs.mkdirSync(dir);
    execFileSync('/usr/bin/python3', ['-c', WRITE, dir]);
    cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  });

  it('reads every dtype, both byte orders, format versions 1, 2 and 3, scalars and empty arrays', () => {
    assert.equal(Object.keys(cases).length, 19);
    for (const [name, c] of Object.entries(cases)) {
      const a = readNpy(path.join(dir, `${name}.npy`));
      assert.equal(a.descr, c.descr, name);
      assert.deepEqual(a.shape, c.shape, name);
      const got =
        a.kind === 'bool'
          ? Array.from(a.data as Uint8Array, (v) => String(v === 1 ? 'True' : 'False'))
          : Array.from(a.data as ArrayLike<number | bigint>, (v) => String(v));
      const want = c.values.map((v) => (a.kind === 'float32' ? String(Math.fround(Number(v))) : v));
      assert.deepEqual(got, want, name);
    }
    // float16 is kept as bits; decoded it is the value numpy rounded to.
    const h = readNpy(path.join(dir, 'f2.npy'));
    assert.equal(h.kind, 'float16');
    assert.ok(Math.abs(decodeFloat16(h.data as Uint16Array)[0] - Number(cases.f4.values[0])) < 0.1);
    assert.equal(readNpy(path.join(dir, 'be_f4.npy')).kind, 'float32');
  });

  it('refuses Fortran order, structured, object and complex arrays, and broken files, with the reason', () => {
    const refuse = (name: string, why: RegExp) =>
      assert.throws(
        () => readNpy(path.join(dir, `${name}.npy`)),
        (e: unknown) => e instanceof NpyError && why.test(e.message),
      );
    refuse(
      'fortran',
      /Fortran \(column-major\) order: save it with np\.save\(path, np\.ascontiguousarray\(a\)\)/,
    );
    refuse('structured', /structured dtypes are not supported/);
    refuse('object', /dtype \|O is not supported/);
    refuse('complex', /dtype <c8 is not supported/);
    const good = fs.readFileSync(path.join(dir, 'f4.npy'));
    assert.throws(
      () => parseNpy(good.subarray(0, good.length - 1)),
      /holds 95 data bytes; shape \(2, 3, 4\) of <f4 needs 96/,
    );
    assert.throws(() => parseNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])), /not a \.npy file/);
    assert.throws(() => readNpy(path.join(dir, 'missing.npy')), NpyError);
  });
});

describe('verify --inputs DIR', () => {
  const model = path.join(MODELS, 'tiny_bert_random_inline.onnx');
  const dir = path.join(tmp, 'inputs');
  before(() => {
    fs.mkdirSync(dir);
    execFileSync('/usr/bin/python3', [
      '-c',
      `
import sys, numpy as np
d = sys.argv[1]
np.save(f'{d}/input_ids.npy', np.array([[5, 17, 1999, 3, 42, 7]], dtype=np.int64))
np.save(f'{d}/attention_mask.npy', np.array([[1, 1, 1, 1, 1, 0]], dtype=np.int32))  # widened to int64
`,
      dir,
    ]);
  });

  it('feeds the files (converted where the type allows), synthesizes the rest with the files’ dims', async () => {
    const v = await verifyModels(model, model, { inputsDir: dir, runs: 1 });
    assert.ok(v.ok, v.error);
    const by = Object.fromEntries(v.inputs.map((i) => [i.name, i]));
    assert.match(by.input_ids.values, /from .*input_ids\.npy$/);
    assert.match(by.attention_mask.values, /from .*attention_mask\.npy \(int32 → int64\)$/);
    assert.deepEqual(by.token_type_ids.dims, [1, 6], 'batch and seq come from the files');
    assert.equal(v.minCosine, 1);
    // Different ids give different outputs: the file really is what ran.
    const synthesized = await verifyModels(model, model, { runs: 1 });
    assert.notDeepEqual(synthesized.inputs[0].dims, by.input_ids.dims);
  });

  it('reports a file that names no input, a wrong shape and a float file for an int input', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad);
    const write = (name: string, script: string) => {
      fs.rmSync(bad, { recursive: true });
      fs.mkdirSync(bad);
      execFileSync('/usr/bin/python3', [
        '-c',
        `import numpy as np\nnp.save('${bad}/${name}.npy', ${script})`,
      ]);
    };
    write('input_idz', 'np.zeros((1, 4), np.int64)');
    let r = cli('verify', model, model, '--inputs', bad);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /input_idz\.npy: names no input of the model \(its inputs: input_ids, attention_mask, token_type_ids/,
    );
    write('input_ids', 'np.zeros((1, 4, 2), np.int64)');
    r = cli('verify', model, model, '--inputs', bad);
    assert.match(r.stderr, /input_ids\.npy: has shape \(1, 4, 2\); input input_ids has rank 2/);
    write('input_ids', 'np.zeros((1, 4), np.float32)');
    r = cli('verify', model, model, '--inputs', bad);
    assert.match(r.stderr, /is float32; input wants int64/);
    assert.equal(cli('verify', model, model, '--inputs', path.join(tmp, 'nope')).status, 2);
    // quantize checks the folder before it writes anything.
    const copy = path.join(tmp, 'm.onnx');
    fs.copyFileSync(model, copy);
    write('input_idz', 'np.zeros((1, 4), np.int64)');
    r = cli('quantize', copy, '--inputs', bad);
    assert.equal(r.status, 1);
    assert.ok(!fs.existsSync(path.join(tmp, 'm.int4.onnx')));
  });
});
