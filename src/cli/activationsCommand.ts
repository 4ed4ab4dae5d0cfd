import {
  type ActivationsReport,
  type ChannelStats,
  headRows,
  hiddenUnitRows,
  inputChannelRows,
  type InputLayer,
} from '../core/compact/activationSummary';
import { findHeadGroups } from '../core/compact/findHeads';
import { findUnitGroups } from '../core/compact/findUnitGroups';
import { weightCache } from '../core/compact/readWeight';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { openModel } from '../runtime/openModel';
import { type UnitTarget, unitStatistics } from '../runtime/unitStatistics';
import { parseArgs, UsageError } from './args';
import { VERIFY_OPTIONS, verifyOptionsOf } from './transformRun';

export const activationsUsage = `big-shrink activations MODEL [--samples 64] [--json] [--data PATH] [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...]
  Runs the model in onnxruntime-node on the calibration samples of its data (else synthesized samples, or
  --inputs) and shows the part that does the work: per MatMul/Gemm/Conv the mean |x| of each input channel
  and the share of samples where it is non-zero; per MLP/Conv hidden unit how often it fires (> 0 after the
  activation), its importance (mean |activation| × norm of the weights reading it), the units that never
  fire, and the share of units that carries 90%/99% of the output energy; per attention block (where the
  graph shows heads: Reshape to [B,S,H,D] → Transpose → MatMul) each head's importance. Writes nothing.
  --samples N         synthesized samples (rows, or positions for Conv) to measure at least (default 64)
  --data PATH         the model's real inputs (file or folder; repeat as INPUT=PATH): every calibration
                      sample is measured, the evaluation samples are left out (--calibration N,
                      --evaluation N, --split F, --tokenizer FILE, --resample, as for every command).
                      Default: MODEL.inputs.json beside the model, else synthesized inputs`;

export type { ActivationsReport };

/** `big-shrink activations`: returns the exit code. */
export async function activationsCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, { samples: { type: 'number' }, json: { type: 'flag' }, ...VERIFY_OPTIONS });
  if (args.positionals.length !== 1) throw new UsageError('activations takes one MODEL');
  const samples = args.options.samples === undefined ? 64 : Number(args.options.samples);
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new UsageError('--samples takes a whole number ≥ 1');
  const verify = verifyOptionsOf(args);
  const model = openModel(args.positionals[0]);
  let layers: InputLayer[];
  let groups: ReturnType<typeof findUnitGroups>['groups'];
  let read: ReturnType<typeof weightCache>;
  try {
    read = weightCache(model.source, model.resolveExternal);
    groups = findUnitGroups(model.index, (t) => (t.count === 1 ? read(t)[0] : undefined)).groups;
    layers = inputLayers(model.index);
    const heads = findHeadGroups(model.index, read);
    const targets = new Map<string, UnitTarget>();
    for (const l of layers) targets.set(l.input, { name: l.input, units: l.channels, axis: l.axis });
    for (const g of groups) targets.set(g.hidden, { name: g.hidden, units: g.units, axis: g.hiddenAxis });
    if (!args.options.json)
      process.stderr.write(`measuring ${targets.size} activations in onnxruntime-node…\n`);
    let last = 0;
    const measured = await unitStatistics(model.path, [...targets.values()], {
      ...verify,
      samples,
      warn: (line) => process.stderr.write(`big-shrink: ${line}\n`),
      // About once a second, and the last: the editor's progress reads these lines.
      onProgress(done, total) {
        const now = Date.now();
        if (done !== total && now - last < 1000) return;
        last = now;
        process.stderr.write(`activations: ${done}/${total} runs\n`);
      },
    });
    const stats = new Map<string, ChannelStats>(measured.stats.map((s) => [s.name, s]));
    const report: ActivationsReport = {
      model: model.path,
      calibration: measured.calibration,
      ...(measured.data ? { data: measured.data } : {}),
      inputs: inputChannelRows(layers, stats),
      units: hiddenUnitRows(model.index, groups, stats, read),
      heads: headRows(model.index, heads, stats, read),
      missing: measured.missing,
    };
    if (args.options.json) out(JSON.stringify(report, null, 2));
    else printActivations(report, out);
    return 0;
  } finally {
    model.close();
  }
}

/** Every main-graph MatMul/Gemm/Conv with a constant weight: the activation it reads and its channels. */
function inputLayers(index: ModelIndex): InputLayer[] {
  const constants = new Map(index.tensors.filter((t) => t.graph === 'main').map((t) => [t.name, t]));
  const layers: InputLayer[] = [];
  for (const id of index.graphs[0].nodeIds) {
    const n = index.nodes[id];
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const w = constants.get(n.inputs[1] ?? '');
    if (!w || constants.has(n.inputs[0])) continue;
    const attr = (name: string) => n.attributes.find((a) => a.name === name)?.i ?? 0;
    const name = n.name || w.name;
    if (n.opType === 'MatMul' && w.dims.length === 2)
      layers.push({ name, op: n.opType, input: n.inputs[0], channels: w.dims[0], axis: 'last' });
    else if (n.opType === 'Gemm' && w.dims.length === 2 && !attr('transA'))
      layers.push({
        name,
        op: n.opType,
        input: n.inputs[0],
        channels: w.dims[attr('transB') ? 1 : 0],
        axis: 'last',
      });
    else if (n.opType === 'Conv' && w.dims.length >= 3)
      layers.push({
        name,
        op: n.opType,
        input: n.inputs[0],
        channels: w.dims[1] * (attr('group') || 1),
        axis: 1,
      });
  }
  return layers;
}

function printActivations(r: ActivationsReport, out: (line: string) => void): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  out(`${r.model}: measured on ${r.calibration}`);
  if (r.data?.source === 'synthetic')
    out('(synthesized inputs: no --data and no recipe beside the model; real inputs may fire other units)');
  if (r.units.length) out('hidden units:');
  for (const u of r.units) {
    out(
      `  ${u.name} (${u.kind}): ${u.neverFire.length} of ${u.units} hidden units never fire on ${u.samples} samples; ` +
        `${pct(u.share90)} of the units carry 90% of the output energy, ${pct(u.share99)} carry 99%`,
    );
  }
  if (r.heads?.length) out('attention heads (importance per head, largest = 1):');
  for (const h of r.heads ?? []) {
    const top = Math.max(...h.importance);
    const rel = h.importance.map((v) => (top > 0 ? v / top : 0).toFixed(2)).join(' ');
    out(
      `  ${h.name} (${h.op}): ${h.heads} heads × ${h.headDim}: ${rel}; ${pct(h.share90)} of the heads carry 90% of the output energy, ${pct(h.share99)} carry 99%`,
    );
  }
  if (r.heads?.length) out(`  (${r.heads[0].leftWhole})`);
  if (r.inputs.length) out('input channels (mean |x|, share non-zero):');
  for (const l of r.inputs) {
    const mean = l.meanAbs.reduce((a, b) => a + b, 0) / l.channels;
    const nz = l.nonZero.reduce((a, b) => a + b, 0) / l.channels;
    out(
      `  ${l.name} (${l.op}) reads ${l.input}: ${l.channels} channels, mean |x| ${mean.toPrecision(4)}, non-zero ${pct(nz)}` +
        (l.alwaysZero ? `, ${l.alwaysZero} always zero` : ''),
    );
  }
  for (const m of r.missing) out(`not measured: ${m.name} (${m.reason})`);
}
