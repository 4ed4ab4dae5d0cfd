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
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('sharp') as Sharp;
  } catch (e) {
    throw new Error(`the image decoder (sharp) is not installed here: ${(e as Error).message}`);
  }
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
    const r = await resample(file, W, H, recipe, C === 1);
    pixels = r.data;
    got = r.channels;
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

type Raw = { data: Buffer; width: number; height: number; channels: number };

const INTERPOLATORS = {
  nearest: 'nearest',
  linear: 'bilinear',
  cubic: 'bicubic',
  lanczos3: 'bicubic',
} as const;

/**
 * The image's pixels at W×H (interleaved, 1 or 3 channels). Axes that shrink go through libvips' reduce
 * (antialiased and centre-aligned, as PIL's resize); axes that grow through an affine transform with the
 * pixel centres aligned and the edges repeated (as PIL's, where libvips' own upsizing is half a pixel
 * off). cover scales to fill and crops the centre; contain scales to fit and pads with black.
 */
async function resample(
  file: string,
  W: number,
  H: number,
  recipe: ImageRecipe,
  gray: boolean,
): Promise<Raw> {
  const sharp = loadSharp();
  let img = sharp(file, { failOn: 'error' }).rotate().removeAlpha();
  if (gray) img = img.grayscale();
  const first = await img.raw().toBuffer({ resolveWithObject: true });
  let cur: Raw = {
    data: first.data,
    width: first.info.width,
    height: first.info.height,
    channels: first.info.channels,
  };
  const fit = recipe.resize ?? 'stretch';
  const s =
    fit === 'cover' ? Math.max(W / cur.width, H / cur.height) : Math.min(W / cur.width, H / cur.height);
  const tw = fit === 'stretch' ? W : Math.max(1, Math.round(cur.width * s));
  const th = fit === 'stretch' ? H : Math.max(1, Math.round(cur.height * s));
  const kernel = recipe.interpolation ?? 'linear';
  const raw = (r: Raw) => ({ raw: { width: r.width, height: r.height, channels: r.channels as 1 | 3 } });
  const done = async (p: import('sharp').Sharp): Promise<Raw> => {
    const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  };
  const rw = Math.min(tw, cur.width);
  const rh = Math.min(th, cur.height);
  if (rw !== cur.width || rh !== cur.height)
    cur = await done(sharp(cur.data, raw(cur)).resize(rw, rh, { fit: 'fill', kernel }));
  if (tw > cur.width || th > cur.height) {
    const sx = tw / cur.width;
    const sy = th / cur.height;
    const extended = await done(
      sharp(cur.data, raw(cur)).extend({ top: 1, bottom: 1, left: 1, right: 1, extendWith: 'copy' }),
    );
    // libvips maps output x to input x / sx − idx: centre alignment is idx = 0.5 − 0.5 / sx, less the
    // one-pixel border.
    const grown = await done(
      sharp(extended.data, raw(extended)).affine([sx, 0, 0, sy], {
        interpolator: INTERPOLATORS[kernel],
        idx: 0.5 - 0.5 / sx - 1,
        idy: 0.5 - 0.5 / sy - 1,
      }),
    );
    cur = await done(sharp(grown.data, raw(grown)).extract({ left: 0, top: 0, width: tw, height: th }));
  }
  if (fit === 'cover' && (cur.width !== W || cur.height !== H)) {
    const left = Math.floor((cur.width - W) / 2);
    const top = Math.floor((cur.height - H) / 2);
    cur = await done(sharp(cur.data, raw(cur)).extract({ left, top, width: W, height: H }));
  } else if (fit === 'contain' && (cur.width !== W || cur.height !== H)) {
    const left = Math.floor((W - cur.width) / 2);
    const top = Math.floor((H - cur.height) / 2);
    cur = await done(
      sharp(cur.data, raw(cur)).extend({
        left,
        right: W - cur.width - left,
        top,
        bottom: H - cur.height - top,
        background: { r: 0, g: 0, b: 0 },
      }),
    );
  }
  if (cur.width !== W || cur.height !== H)
    throw new Error(`resized to ${cur.width}×${cur.height}, not ${W}×${H}`);
  return cur;
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
