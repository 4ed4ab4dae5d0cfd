// The benchmark's rows (test/bench/benchRows.ts): a row that measured nothing says so and is not met, the
// models a mean left out are named, ratios are whole process against whole process, and absolute targets
// are printed as absolute figures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { absoluteRow, gainRows, speedupRows } from '../bench/benchRows';
import type { TimedRun } from '../bench/timedRun';

const run = (seconds: number): TimedRun => ({ seconds, peakRssMb: 100, cpuSeconds: seconds, stdout: '' });
const MODELS = ['a.onnx', 'b.onnx', 'c.onnx'];

describe('benchmark rows', () => {
  it('a gain row over no model says "not measured" and is missed, naming every model skipped', () => {
    const lines = gainRows('gptq', new Map(), MODELS, 1.5);
    assert.equal(lines.length, 3, lines.join('\n'));
    for (const line of lines.slice(0, 2)) {
      assert.match(line, /not measured/);
      assert.match(line, /MISSED$/);
      assert.doesNotMatch(line, /Infinity|NaN|met$/);
    }
    assert.match(lines[2], /gptq: skipped a\.onnx, b\.onnx, c\.onnx/);
  });

  it('a mean over fewer models says over how many, and names the others', () => {
    const lines = gainRows(
      'search',
      new Map([
        ['a.onnx', 2],
        ['c.onnx', 1],
      ]),
      MODELS,
      1.5,
    );
    assert.match(
      lines[0],
      /^search: mean output SQNR gain over RTN \(2 of 3 models\) +\+1\.50 dB +target \+1\.5 dB avg +met$/,
    );
    assert.match(lines[1], /worst model gain over RTN \(2 of 3 models\) +\+1\.00 dB +target ≥ 0 dB +met$/);
    assert.equal(lines[2], '  search: skipped b.onnx');
  });

  it('with every model measured: no count, no skipped line; a loss is missed', () => {
    const lines = gainRows('gptq', new Map(MODELS.map((m, i) => [m, i - 0.5])), MODELS, 1.5);
    assert.equal(lines.length, 2);
    assert.match(lines[0], /gain over RTN +\+0\.50 dB .*MISSED$/);
    assert.match(lines[1], /worst model gain over RTN +-0\.50 dB .*MISSED$/);
    assert.doesNotMatch(lines.join(), /of 3 models/);
  });

  it('a speed-up is the ratio of the two whole processes, both printed', () => {
    const [ratio, both] = speedupRows('speed-up over the baseline', run(12), run(1.5), 5);
    assert.match(ratio, /^speed-up over the baseline +8\.00× +target ≥ 5× +met$/);
    assert.match(both, /12\.00 \/ 1\.50 s/);
    assert.match(speedupRows('x', run(4), run(2), 3)[0], /2\.00× +target ≥ 3× +MISSED$/);
  });

  it('an absolute target is printed as an absolute figure in its own unit, not as a ratio', () => {
    const mbs = absoluteRow('inspect throughput', 700.4, 'MB/s', { atLeast: 600 });
    assert.match(mbs, /^inspect throughput +700 MB\/s +target ≥ 600 MB\/s +met$/);
    assert.doesNotMatch(mbs, /×/);
    assert.match(
      absoluteRow('index alone', 123.45, 'ms', { atMost: 100 }, 1),
      /123\.5 ms +target ≤ 100\.0 ms +MISSED$/,
    );
    assert.match(absoluteRow('peak RSS', 512, 'MB', { atMost: 812.7 }), /512 MB +target ≤ 813 MB +met$/);
  });
});
