import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeRecipe } from '../../src/core/data/inputRecipe';
import { testModel } from '../testModels';
import { cli, hasTool, maxAbsDiff, python, readFloat32Npy, samplesOf, tempDir } from './dataTestKit';

// Python's wave module, the reference: 16-bit (and plain 24-bit) PCM as integers / 2^(bits-1), channels averaged.
const REFERENCE = `
import sys, wave, numpy as np
w = wave.open(sys.argv[1]); n = w.getnframes(); b = w.getsampwidth(); ch = w.getnchannels()
raw = np.frombuffer(w.readframes(n), dtype=np.uint8).reshape(-1, b)
if b == 3:
    v = (raw[:, 0].astype(np.int32) | (raw[:, 1].astype(np.int32) << 8) | (raw[:, 2].astype(np.int8).astype(np.int32) << 16)).astype(np.float64) / 2**23
else:
    v = raw.reshape(-1).view('<i2').astype(np.float64) / 2**15
v = v.reshape(-1, ch).mean(axis=1)
np.save(sys.argv[2], v.astype(np.float32))
print(w.getframerate())
`;

const VAD = 'silero_vad_legacy.onnx';
const tools = hasTool('espeak-ng') && hasTool('sox');

describe('audio data', { skip: tools ? false : 'needs the Debian packages espeak-ng and sox' }, () => {
  let dir: string;
  const wav = (name: string) => path.join(dir, name);
  before(() => {
    dir = tempDir('audio');
    fs.mkdirSync(wav('speech'));
    // espeak-ng's audio library makes a pulse-* folder in TMPDIR even when writing a file: this one's.
    const speak = (file: string, text: string) =>
      execFileSync('espeak-ng', ['-w', wav(file), text], { env: { ...process.env, TMPDIR: dir } });
    speak('a22.wav', 'the quick brown fox jumps over the lazy dog');
    speak('b22.wav', 'voice activity detection on real speech');
    execFileSync('sox', [wav('a22.wav'), '-r', '16000', wav('speech/a.wav')]);
    execFileSync('sox', [wav('b22.wav'), '-r', '16000', wav('speech/b.wav')]);
    execFileSync('sox', [wav('speech/a.wav'), '-b', '24', wav('a24.wav')]);
    execFileSync('sox', [wav('speech/a.wav'), '-e', 'floating-point', '-b', '32', wav('af.wav')]);
    execFileSync('sox', [wav('speech/a.wav'), '-c', '2', wav('ast.wav')]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('decodes speech WAVs as python wave reads them, in windows of the input length', async () => {
    assert.equal(python(['-c', REFERENCE, wav('speech/a.wav'), wav('a.npy')]).trim(), '16000');
    const ref = readFloat32Npy(wav('a.npy'));
    const set = await samplesOf(testModel(VAD), {
      data: [{ path: wav('speech/a.wav') }],
      dims: { sequence: 512 },
      calibration: 0,
    });
    const windows = set.evaluation.map((f) => f.input.data as Float32Array);
    assert.equal(windows.length, 8);
    windows.forEach((w, i) =>
      assert.equal(maxAbsDiff(w, ref.subarray(i * 512, (i + 1) * 512)), 0, `window ${i}`),
    );
    // The other inputs: the rate of the audio and zero states.
    const first = set.evaluation[0];
    assert.equal(Number((first.sr.data as BigInt64Array)[0]), 16000);
    assert.deepEqual(first.h.dims, [2, 1, 64]);
    assert.ok((first.h.data as Float32Array).every((v) => v === 0));
    // 24-bit and float copies (sox writes them WAVE_FORMAT_EXTENSIBLE, which python's wave refuses) and a
    // stereo one decode to the same samples.
    for (const copy of ['a24.wav', 'af.wav', 'ast.wav']) {
      const other = await samplesOf(testModel(VAD), {
        data: [{ path: wav(copy) }],
        dims: { sequence: 512 },
        calibration: 0,
      });
      assert.ok(maxAbsDiff(other.evaluation[0].input.data as Float32Array, windows[0]) < 1e-7, copy);
    }
  });

  it('verifies the voice-activity model on speech through verify --data', async (t) => {
    const work = tempDir('vad');
    t.after(() => fs.rmSync(work, { recursive: true, force: true }));
    const model = path.join(work, 'vad.onnx');
    fs.copyFileSync(testModel(VAD), model);
    // The recipe beside the model sets the rate and the window: no --dims needed.
    fs.writeFileSync(
      path.join(work, 'vad.inputs.json'),
      serializeRecipe({
        version: 1,
        data: [wav('speech')],
        inputs: { input: { source: 'audio', audio: { sampleRate: 16000, window: 512 } } },
      }),
    );
    const converted = cli(['convert', model, '--fp16', '--json']);
    assert.equal(converted.status, 0, converted.stderr);
    const report = JSON.parse(converted.stdout);
    assert.equal(report.data.source, 'files');
    assert.equal(report.data.recipeFile, path.join(work, 'vad.inputs.json'));
    assert.equal(report.data.calibration + report.data.evaluation, 16);
    const v = JSON.parse(cli(['verify', model, path.join(work, 'vad.fp16.onnx'), '--json']).stdout);
    assert.equal(v.ok, true);
    assert.equal(v.data.evaluation, 8);
    // Every evaluation sample was run and compared (the figures pool them; dims are one sample's).
    assert.equal(v.metrics.samples, 8);
    assert.deepEqual(v.outputs.find((o: { name: string }) => o.name === 'output').dims, [1, 1]);
  });

  it('refuses a file at another rate than the model takes, unless asked to resample', async () => {
    const recipe = {
      version: 1 as const,
      inputs: { input: { source: 'audio' as const, audio: { sampleRate: 16000, window: 512 } } },
    };
    await assert.rejects(
      samplesOf(testModel(VAD), { data: [{ path: wav('a22.wav') }], recipe }),
      /a22\.wav.*nothing usable is left.*sampled at 22050 Hz, the model takes 16000 Hz/,
    );
    const r = cli([
      'data',
      testModel(VAD),
      '--data',
      wav('a22.wav'),
      '--fill',
      'sr=16000',
      '--dims',
      'sequence=512',
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /a22\.wav: is sampled at 22050 Hz, the model takes 16000 Hz/);
    const resampled = await samplesOf(testModel(VAD), {
      data: [{ path: wav('a22.wav') }],
      recipe,
      resample: true,
    });
    assert.equal(Number((resampled.evaluation[0].sr.data as BigInt64Array)[0]), 16000);
    assert.equal(resampled.calibration.length + resampled.evaluation.length, 8);
  });
});
