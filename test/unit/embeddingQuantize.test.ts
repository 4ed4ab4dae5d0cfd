import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const MAKER = path.join(REPO_ROOT, 'scripts', 'make-llm-model.js');

interface Report {
  tensors: { name: string; afterDtype: string; beforeBytes: number; afterBytes: number }[];
  nodes: { from: string; to: string; weight: string }[];
  skipped: { name: string; reason: string }[];
  verification: { outputs: { name: string; sqnrDb: number }[] };
}

describe('quantize --embedding 4|8: token embeddings to GatherBlockQuantized', () => {
  let dir = '';
  const make = (name: string, extra: string[]) => {
    const file = path.join(dir, name);
    const r = spawnSync(
      process.execPath,
      [MAKER, file, '--hidden', '128', '--layers', '1', '--vocab', '512', '--dtype', 'fp32', ...extra],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return file;
  };
  const quantize = (model: string, bits: number, out: string): Report => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'quantize',
        model,
        '--bits',
        '4',
        '--embedding',
        String(bits),
        '--exclude',
        'MatMul',
        '-o',
        out,
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    return JSON.parse(fs.readFileSync(out.replace(/\.onnx$/, '.report.json'), 'utf8')) as Report;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-embedding-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('replaces the Gather, stores codes + scales + zero points, and onnxruntime runs it (8-bit ≫ 4-bit)', () => {
    const model = make('untied.onnx', []);
    const sqnr: Record<number, number> = {};
    for (const bits of [4, 8]) {
      const rep = quantize(model, bits, path.join(dir, `untied.e${bits}.onnx`));
      const row = rep.tensors.find((t) => t.name === 'model.embed_tokens.weight');
      assert.ok(row, JSON.stringify(rep.tensors));
      assert.match(row.afterDtype, new RegExp(`uint${bits} \\(GatherBlockQuantized`));
      // Codes + one scale and one zero point per block of 32 (fp32 scales).
      const V = 512;
      const H = 128;
      assert.equal(
        row.afterBytes,
        (V * H * bits) / 8 + V * (H / 32) * 4 + V * Math.ceil(((H / 32) * bits) / 8),
      );
      assert.deepEqual(
        rep.nodes.map((n) => [n.from, n.to]),
        [['Gather', 'com.microsoft::GatherBlockQuantized']],
      );
      sqnr[bits] = rep.verification.outputs.find((o) => o.name === 'logits')!.sqnrDb;
    }
    assert.ok(sqnr[4] > 10, `4-bit logits SQNR ${sqnr[4]}`);
    assert.ok(sqnr[8] > sqnr[4] + 15, `8-bit ${sqnr[8]} dB vs 4-bit ${sqnr[4]} dB`);
  });

  it('a tied embedding (also the LM head) stays float, stored once, and says why', () => {
    const model = make('tied.onnx', ['--tied']);
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'quantize',
        model,
        '--bits',
        '4',
        '--embedding',
        '4',
        '--exclude',
        'MatMul',
        '-o',
        path.join(dir, 'tied.e4.onnx'),
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1, 'nothing else to quantize: the run ends with nothing written');
    assert.match(r.stderr, /tied/);
  });
});
