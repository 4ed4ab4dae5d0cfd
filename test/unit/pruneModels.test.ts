import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import {
  DEFAULT_PRUNE_OPTIONS,
  planPrune,
  type PrunePlan,
  type PruneOptions,
} from '../../src/core/prune/planPrune';
import type { PruneReport } from '../../src/core/prune/pruneReport';
import { agreedLayout } from '../../src/core/prune/pruneTargets';
import { planWrite } from '../../src/core/write/planWrite';
import { openModel } from '../../src/runtime/openModel';
import { verifyModels } from '../../src/runtime/verifyModels';
import { writeModel } from '../../src/runtime/writeModel';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const ORACLE = path.join(REPO, 'test', 'oracle', 'sparsity_oracle.py');
const MASK_ORACLE = path.join(REPO, 'test', 'oracle', 'safetensors_oracle.py');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-prune-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface OracleTensor {
  count: number;
  zerosBefore: number;
  zerosAfter: number;
  changed: number;
  maxPrunedAbs: number | null;
  minKeptAbs: number | null;
  nmGroups?: number;
  nmViolations?: number;
  zeroChannels?: number[];
  channelNorms?: number[];
  liveChannelsChanged?: number;
  nonZeroWhereMask0?: number;
  zeroedWhereMask1?: number;
}
interface OracleResult {
  model: { sparseInitializers: number; sparsePayloadBytes: number };
  tensors: Record<string, OracleTensor>;
}
interface Job {
  original: string;
  pruned: string;
  tensors: { name: string; nm?: [number, number, number]; channel_axis?: number }[];
  mask?: string;
}

/** The pruned models measured by onnx + numpy (test/oracle/sparsity_oracle.py), one Python run for all jobs. */
function measure(jobs: Job[]): OracleResult[] {
  const file = path.join(tmp, `jobs-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(jobs));
  return JSON.parse(execFileSync('/usr/bin/python3', [ORACLE, file], { maxBuffer: 64 << 20 }).toString());
}

/** Prunes through the core and the writer, as the CLI does. */
function pruneFile(input: string, output: string, options: Partial<PruneOptions>) {
  const model = openModel(input);
  try {
    const plan = planPrune(model.index, model.source, model.resolveExternal, {
      ...DEFAULT_PRUNE_OPTIONS,
      ...options,
    });
    const ext = model.index.externalLocations.length > 0;
    const wp = planWrite(model.index, model.source, plan.edits, {
      externalData: ext ? { location: `${path.basename(output)}.data`, threshold: 1024 } : undefined,
    });
    writeModel(wp, model, output, { force: true });
    const layouts = new Map(
      plan.tensors.map((r) => {
        const t = model.index.tensors.find((x) => x.name === r.name && x.graph === r.graph)!;
        const l = agreedLayout(model.index, t);
        return [r.name, typeof l === 'string' ? undefined : l];
      }),
    );
    return { plan, layouts };
  } finally {
    model.close();
  }
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** 90% of the weights zeroed may fail on fidelity: then exit 3 (written), with the report saying so. */
function writtenExit(r: { code: number | null; stderr: string }, report: PruneReport): void {
  if (r.code === 3) assert.equal(report.summary.status, 'fail', r.stderr);
  else assert.equal(r.code, 0, r.stderr);
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const MODEL_FILES = [
  'tiny_bert_random_inline.onnx',
  'ortgenai_tiny_random_gpt2_fp32_past.onnx',
  'dtln_model_2.onnx',
  'oww_embedding_model.onnx',
];

describe('pruning the test models', () => {
  for (const name of MODEL_FILES) {
    describe(name, () => {
      const original = path.join(MODELS, name);
      const stem = path.join(tmp, name.replace(/\.onnx$/, ''));
      const runs: Record<string, { file: string; plan: PrunePlan; layouts: Map<string, unknown> }> = {};
      let measured: Record<string, OracleResult> = {};
      const variants: Record<string, Partial<PruneOptions>> = {
        layer: { sparsity: 0.5 },
        global: { sparsity: 0.5, scope: 'global' },
        nm: { method: 'nm', n: 2, m: 4 },
        channel: { method: 'channel', sparsity: 0.25 },
        dense90: { sparsity: 0.9 },
        sparse90: { sparsity: 0.9, storage: 'sparse' },
      };

      before(() => {
        for (const [v, options] of Object.entries(variants)) {
          const file = `${stem}.${v}.onnx`;
          runs[v] = { file, ...pruneFile(original, file, options) };
        }
        const jobs = Object.values(runs).map(({ file, plan, layouts }) => ({
          original,
          pruned: file,
          tensors: plan.tensors.map((r) => {
            const l = layouts.get(r.name) as { reductionAxis: number; channelAxis: number } | undefined;
            return {
              name: r.name,
              ...(r.pattern && l ? { nm: [l.reductionAxis, 2, 4] as [number, number, number] } : {}),
              ...(r.channels ? { channel_axis: r.channels.axis } : {}),
            };
          }),
        }));
        const results = measure(jobs);
        measured = Object.fromEntries(Object.keys(runs).map((v, i) => [v, results[i]]));
      });

      it('loads and runs in onnxruntime-node after every method', async () => {
        for (const [v, { file, plan }] of Object.entries(runs)) {
          assert.ok(plan.tensors.length > 0, `${v}: something was pruned`);
          const r = await verifyModels(original, file);
          assert.ok(r.ok, `${v}: ${r.error}`);
          for (const o of r.outputs)
            assert.ok(Number.isFinite(o.cosine), `${v} ${o.name}: cosine ${o.cosine}`);
        }
      });

      it('changes only zeros in, and reaches the target per layer and globally (to rounding)', () => {
        for (const [v, result] of Object.entries(measured)) {
          for (const [t, m] of Object.entries(result.tensors))
            assert.equal(m.changed, 0, `${v} ${t}: values other than new zeros changed`);
        }
        for (const [t, m] of Object.entries(measured.layer.tensors))
          assert.equal(m.zerosAfter, Math.max(Math.round(0.5 * m.count), m.zerosBefore), `layer ${t}`);
        const g = Object.values(measured.global.tensors);
        const total = g.reduce((s, m) => s + m.count, 0);
        const zeros = g.reduce((s, m) => s + m.zerosAfter, 0);
        const zerosBefore = g.reduce((s, m) => s + m.zerosBefore, 0);
        assert.equal(zeros, Math.max(Math.round(0.5 * total), zerosBefore));
        const maxPruned = Math.max(...g.map((m) => m.maxPrunedAbs ?? 0));
        const minKept = Math.min(...g.map((m) => m.minKeptAbs ?? Infinity));
        assert.ok(maxPruned <= minKept, `global: pruned |w| up to ${maxPruned}, kept from ${minKept}`);
        // The report's figures are the oracle's.
        for (const row of runs.global.plan.tensors)
          assert.equal(row.zerosAfter, measured.global.tensors[row.name].zerosAfter);
      });

      it('N:M holds in every group along the reduction axis', () => {
        const rows = runs.nm.plan.tensors;
        assert.ok(rows.length > 0);
        for (const row of rows) {
          const m = measured.nm.tensors[row.name];
          assert.ok(m.nmGroups! > 0, row.name);
          assert.equal(m.nmViolations, 0, `${row.name}: ${m.nmViolations} groups break 2:4`);
        }
      });

      it('channel pruning zeroes whole channels, the smallest by L2 norm, and reports which', () => {
        for (const row of runs.channel.plan.tensors) {
          const m = measured.channel.tensors[row.name];
          assert.deepEqual(m.zeroChannels, row.channels!.zeroed, row.name);
          assert.equal(row.channels!.zeroed.length, Math.round(0.25 * row.channels!.total));
          assert.equal(m.liveChannelsChanged, 0);
          const norms = m.channelNorms!;
          const maxZeroed = Math.max(...m.zeroChannels!.map((c) => norms[c]));
          norms.forEach((n, c) =>
            assert.ok(m.zeroChannels!.includes(c) || n >= maxZeroed, `${row.name} channel ${c}`),
          );
        }
      });

      it('a sparse_initializer model gives the same outputs as its dense twin, and is smaller', async () => {
        const sparseRows = runs.sparse90.plan.tensors.filter((r) => r.storage === 'sparse_initializer');
        assert.ok(sparseRows.length > 0);
        assert.equal(measured.sparse90.model.sparseInitializers, sparseRows.length);
        assert.equal(
          measured.sparse90.model.sparsePayloadBytes,
          sparseRows.reduce((s, r) => s + r.afterBytes, 0),
        );
        assert.equal(measured.dense90.model.sparseInitializers, 0);
        const r = await verifyModels(runs.dense90.file, runs.sparse90.file);
        assert.ok(r.ok, r.error);
        for (const o of r.outputs) assert.equal(o.maxAbsError, 0, `${o.name} differs`);
        assert.ok(fs.statSync(runs.sparse90.file).size < fs.statSync(runs.dense90.file).size);
      });
    });
  }
});

describe('big-shrink prune (CLI)', () => {
  const inline = path.join(tmp, 'cli', 'tiny_bert_random_inline.onnx');
  const extdata = path.join(tmp, 'cli', 'tiny_bert_random_extdata.onnx');
  const masks = path.join(tmp, 'cli', 'ticket.safetensors');
  before(() => {
    fs.mkdirSync(path.dirname(inline), { recursive: true });
    for (const f of [
      'tiny_bert_random_inline.onnx',
      'tiny_bert_random_extdata.onnx',
      'tiny_bert_random_extdata.onnx.data',
    ])
      fs.copyFileSync(path.join(MODELS, f), path.join(tmp, 'cli', f));
  });

  it('writes the model, the masks and a report whose size figures match the files on disk', () => {
    const r = cli([
      'prune',
      inline,
      '--method',
      'magnitude',
      '--scope',
      'global',
      '--sparsity',
      '0.9',
      '--storage',
      'sparse',
      '--save-mask',
      masks,
      '--json',
    ]);
    const out = inline.replace(/\.onnx$/, '.sparse90.sparseinit.onnx');
    const report = JSON.parse(r.stdout) as PruneReport;
    writtenExit(r, report);
    assert.deepEqual(JSON.parse(fs.readFileSync(out.replace(/\.onnx$/, '.report.json'), 'utf8')), report);
    assert.match(
      fs.readFileSync(out.replace(/\.onnx$/, '.report.md'), 'utf8'),
      /## Size[\s\S]*runtime memory/,
    );
    assert.equal(report.transform, 'prune');
    assert.ok(report.verification?.ok, report.verification?.error);
    for (const f of [...report.input.files, ...report.output.files]) {
      assert.equal(f.bytes, fs.statSync(f.path).size, f.path);
      assert.equal(f.sha256, sha256(f.path));
      assert.equal(f.gzipBytes, zlib.gzipSync(fs.readFileSync(f.path)).length, `gzip of ${f.path}`);
    }
    assert.deepEqual(
      report.output.files.map((f) => f.path),
      [out],
    );
    const z = report.sizes;
    assert.equal(z.outputBytes, fs.statSync(out).size);
    assert.equal(z.inputBytes, fs.statSync(inline).size);
    assert.equal(z.outputGzipBytes, report.output.files[0].gzipBytes);
    assert.ok(z.outputBytes < z.inputBytes && z.outputGzipBytes < z.inputGzipBytes);
    assert.equal(z.runtimeBytesAfter, z.runtimeBytesBefore, 'ORT densifies: runtime memory does not shrink');
    const [m] = measure([
      { original: inline, pruned: out, tensors: report.tensors.map((t) => ({ name: t.name })) },
    ]);
    assert.equal(z.prunedStoredBytes, m.model.sparsePayloadBytes);
    const w = report.summary.weights;
    assert.equal(report.summary.sparsityAfter, Math.round(0.9 * w) / w, 'global: the target to rounding');
    // The keep-masks, read by the independent reader: one per pruned weight, ones = weights kept.
    assert.equal(report.masks!.saved!.bytes, fs.statSync(masks).size);
    const read = JSON.parse(execFileSync('/usr/bin/python3', [MASK_ORACLE, 'read', masks]).toString());
    assert.deepEqual(
      Object.keys(read.tensors),
      report.tensors.map((t) => t.name),
    );
    for (const t of report.tensors) {
      assert.deepEqual(read.tensors[t.name].shape, t.dims);
      assert.equal(read.tensors[t.name].ones, t.count - t.zerosAfter, t.name);
    }
  });

  it('applies the masks to another checkpoint of the same architecture (external data)', async () => {
    const r = cli(['prune', extdata, '--mask', masks, '--json']);
    const out = extdata.replace(/\.onnx$/, '.masked.onnx');
    const report = JSON.parse(r.stdout) as PruneReport;
    writtenExit(r, report);
    assert.deepEqual(
      report.output.files.map((f) => f.path),
      [out, `${out}.data`],
    );
    for (const f of report.output.files) assert.equal(f.bytes, fs.statSync(f.path).size);
    assert.equal(report.masks!.applied!.sha256, sha256(masks));
    const [m] = measure([
      { original: extdata, pruned: out, mask: masks, tensors: report.tensors.map((t) => ({ name: t.name })) },
    ]);
    for (const [t, x] of Object.entries(m.tensors)) {
      assert.equal(x.nonZeroWhereMask0, 0, t);
      assert.equal(x.zeroedWhereMask1, 0, t);
    }
    // Same weights as the inline run: the same outputs.
    const v = await verifyModels(inline.replace(/\.onnx$/, '.sparse90.sparseinit.onnx'), out);
    assert.ok(v.ok, v.error);
    for (const o of v.outputs) assert.equal(o.maxAbsError, 0);
  });

  it('names outputs by method and refuses bad usage, clobbering and foreign masks', () => {
    const oww = path.join(tmp, 'cli', 'oww_embedding_model.onnx');
    fs.copyFileSync(path.join(MODELS, 'oww_embedding_model.onnx'), oww);
    assert.equal(cli(['prune', oww, '--method', 'nm', '--n', '4', '--m', '8', '--no-verify']).code, 0);
    assert.ok(fs.existsSync(oww.replace(/\.onnx$/, '.4of8.onnx')));
    assert.equal(cli(['prune', oww, '--method', 'channel', '--sparsity', '0.25', '--no-verify']).code, 0);
    assert.ok(fs.existsSync(oww.replace(/\.onnx$/, '.channels25.onnx')));
    const again = cli(['prune', oww, '--method', 'channel', '--sparsity', '0.25', '--no-verify']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists \(use --force/);
    for (const args of [
      ['--method', 'nm', '--sparsity', '0.5'],
      ['--method', 'channel', '--scope', 'global'],
      ['--method', 'magnitude', '--sparsity', '1.5'],
      ['--method', 'nm', '--n', '4', '--m', '4'],
      ['--sparsity', '0.5'],
      ['--mask', masks, '--method', 'magnitude'],
      ['--method', 'magnitude', '--include', 'everything'],
    ]) {
      const bad = cli(['prune', oww, ...args, '--no-verify']);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    }
    const foreign = cli(['prune', oww, '--mask', masks, '--no-verify']);
    assert.equal(foreign.code, 1);
    assert.match(
      foreign.stderr,
      /ticket\.safetensors: 14 masks name no tensor of the model: "pooler\.weight"/,
    );
    assert.ok(!fs.existsSync(oww.replace(/\.onnx$/, '.masked.onnx')), 'nothing written');
  });
});
