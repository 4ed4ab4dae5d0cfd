import type { ImageRecipe } from '../../core/data/inputRecipe';
import { DataError } from './rawSample';

/** The image input's geometry: channels, height, width and where the channels sit. */
export interface ImageGeometry {
  height: number;
  width: number;
  channels: 1 | 3;
  layout: 'NCHW' | 'NHWC';
}

type Sharp = typeof import('sharp');

function loadSharp(): Sharp {
  // sharp is native: loaded when an image is decoded, not when the CLI starts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('sharp') as Sharp;
}

/** Width and height of an image file (its header only); a DataError when it is no image sharp reads. */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  try {
    const m = await loadSharp()(file).metadata();
    if (!m.width || !m.height) throw new Error('no size in its header');
    return { width: m.width, height: m.height };
  } catch (e) {
    throw new DataError(file, `cannot be decoded as an image (${(e as Error).message})`);
  }
}

/**
 * An image file as float values of one sample (without the batch axis: C×H×W or H×W×C), by the recipe:
 * decoded by sharp (libvips), alpha dropped, resized to H×W (stretch, cover = fill and centre-crop, or
 * contain = letterbox on black) with the recipe's interpolation (default bilinear, antialiased when
 * shrinking as PIL's is), channels RGB/BGR/GRAY, each value `(pixel · scale − mean[c]) / std[c]`.
 */
export async function decodeImage(
  file: string,
  geometry: ImageGeometry,
  recipe: ImageRecipe = {},
): Promise<Float32Array> {
  const { height: H, width: W, channels: C, layout } = geometry;
  const order = recipe.channels ?? (C === 1 ? 'GRAY' : 'RGB');
  if ((order === 'GRAY') !== (C === 1))
    throw new DataError(file, `recipe asks for ${order} but the input has ${C} channel${C === 1 ? '' : 's'}`);
  let pixels: Buffer;
  let got: number;
  try {
    const sharp = loadSharp();
    let img = sharp(file, { failOn: 'error' }).rotate().removeAlpha();
    img = img.resize(W, H, {
      fit: recipe.resize === 'cover' ? 'cover' : recipe.resize === 'contain' ? 'contain' : 'fill',
      kernel: recipe.interpolation ?? 'linear',
      background: { r: 0, g: 0, b: 0 },
    });
    if (C === 1) img = img.grayscale();
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.width !== W || info.height !== H)
      throw new Error(`resized to ${info.width}×${info.height}, not ${W}×${H}`);
    pixels = data;
    got = info.channels;
  } catch (e) {
    throw new DataError(file, `cannot be decoded as an image (${(e as Error).message})`);
  }
  const scale = recipe.scale ?? 1 / 255;
  const mean = perChannel(recipe.mean, C, 0, file, 'mean');
  const std = perChannel(recipe.std, C, 1, file, 'std');
  const out = new Float32Array(C * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * got;
      for (let c = 0; c < C; c++) {
        // The source channel: gray images come as one channel, colour ones as RGB (BGR reverses them).
        const src = got === 1 ? 0 : order === 'BGR' ? 2 - c : c;
        const v = (pixels[p + src] * scale - mean[c]) / std[c];
        out[layout === 'NCHW' ? (c * H + y) * W + x : (y * W + x) * C + c] = v;
      }
    }
  }
  return out;
}

/**
 * A small PNG thumbnail (at most `size` pixels a side) as a data URL, for the editor's preview; made here
 * so the webview never receives whole images.
 */
export async function imageThumbnail(file: string, size = 64): Promise<string> {
  const png = await loadSharp()(file).rotate().resize(size, size, { fit: 'inside' }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function perChannel(
  v: number[] | undefined,
  C: number,
  fallback: number,
  file: string,
  what: string,
): number[] {
  if (!v) return new Array<number>(C).fill(fallback);
  if (v.length === 1) return new Array<number>(C).fill(v[0]);
  if (v.length !== C) throw new DataError(file, `recipe ${what} has ${v.length} values for ${C} channels`);
  return v;
}
