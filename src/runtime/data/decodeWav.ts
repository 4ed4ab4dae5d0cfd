import * as fs from 'node:fs';
import type { AudioRecipe } from '../../core/data/inputRecipe';
import { DataError } from './rawSample';

/** A WAV file as mono float samples in [-1, 1] at `sampleRate`. */
export interface DecodedAudio {
  samples: Float32Array;
  sampleRate: number;
  /** The file's own rate, channels and encoding, for the summary. */
  fileRate: number;
  channels: number;
  encoding: string;
}

type WaveFileClass = typeof import('wavefile').WaveFile;

/**
 * Decodes a WAV file (PCM 8/16/24/32-bit or IEEE float 32/64, also WAVE_FORMAT_EXTENSIBLE) with wavefile:
 * integers are divided by 2^(bits−1) (8-bit is unsigned around 128), channels are averaged to mono. A file
 * at another rate than `recipe.sampleRate` is an error unless `recipe.resample` (then wavefile's cubic
 * resampler converts it).
 */
export function decodeWav(file: string, recipe: AudioRecipe = {}): DecodedAudio {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WaveFile } = require('wavefile') as { WaveFile: WaveFileClass };
  let wav: InstanceType<WaveFileClass>;
  try {
    wav = new WaveFile(fs.readFileSync(file));
  } catch (e) {
    throw new DataError(file, `cannot be decoded as a WAV file (${(e as Error).message})`);
  }
  const fmt = wav.fmt as {
    sampleRate: number;
    numChannels: number;
    bitsPerSample: number;
    audioFormat: number;
  };
  const code = (wav as unknown as { bitDepth: string }).bitDepth;
  const isFloat = code === '32f' || code === '64';
  const isInt = /^(8|16|24|32)$/.test(code);
  if (!isFloat && !isInt)
    throw new DataError(
      file,
      `is a ${code}-bit WAV of format ${fmt.audioFormat}; PCM 8/16/24/32-bit or float is read`,
    );
  const fileRate = fmt.sampleRate;
  const want = recipe.sampleRate ?? fileRate;
  if (want !== fileRate && !recipe.resample)
    throw new DataError(
      file,
      `is sampled at ${fileRate} Hz, the model takes ${want} Hz (resample it, or ask for resampling: "audio": {"resample": true} in the recipe or --resample)`,
    );
  if (want !== fileRate) {
    try {
      // wavefile resamples integer files in place, keeping their bit depth.
      wav.toSampleRate(want, { method: 'cubic' });
    } catch (e) {
      throw new DataError(file, `cannot be resampled to ${want} Hz (${(e as Error).message})`);
    }
  }
  const channels = Math.max(1, fmt.numChannels);
  const raw = wav.getSamples(false, Float64Array) as unknown as Float64Array | Float64Array[];
  const perChannel: Float64Array[] = channels === 1 ? [raw as Float64Array] : (raw as Float64Array[]);
  const n = perChannel[0]?.length ?? 0;
  const bits = Number(code);
  const offset = isInt && bits === 8 ? 128 : 0;
  const unit = isFloat ? 1 : 2 ** (bits - 1);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const ch of perChannel) sum += (ch[i] - offset) / unit;
    samples[i] = sum / perChannel.length;
  }
  return {
    samples,
    sampleRate: want,
    fileRate,
    channels,
    encoding: isFloat ? `float${code === '64' ? 64 : 32}` : `pcm${bits}`,
  };
}

/**
 * Windows of `length` samples every `hop` (at most `maxWindows`); a short file, or a short last window,
 * is padded with `pad`. A file shorter than one window still gives one.
 */
export function audioWindows(
  samples: Float32Array,
  length: number,
  hop = length,
  maxWindows = 8,
  pad = 0,
): Float32Array[] {
  const out: Float32Array[] = [];
  for (let start = 0; out.length < maxWindows; start += hop) {
    if (start > 0 && start + length > samples.length && out.length > 0) {
      // Keep a last partial window only when it holds at least half a window of sound.
      if (samples.length - start < length / 2) break;
    }
    if (start >= samples.length && out.length > 0) break;
    const w = new Float32Array(length).fill(pad);
    w.set(samples.subarray(start, Math.min(samples.length, start + length)));
    out.push(w);
  }
  return out;
}

/** A coarse waveform for the editor's preview: `points` (min, max) pairs over the samples. */
export function waveformSketch(samples: Float32Array, points = 64): [number, number][] {
  const out: [number, number][] = [];
  const step = Math.max(1, Math.ceil(samples.length / points));
  for (let i = 0; i < samples.length; i += step) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = i; j < Math.min(samples.length, i + step); j++) {
      lo = Math.min(lo, samples[j]);
      hi = Math.max(hi, samples[j]);
    }
    out.push([Number(lo.toFixed(4)), Number(hi.toFixed(4))]);
  }
  return out;
}
