/** Canvas histograms: the inline sparkline of a table row and the full histogram of the detail view. */
import type { Histogram } from '../../src/core/stats/tensorStats';
import { formatCompact, formatStat } from './format';

export interface HistogramColors {
  bar: string;
  axis: string;
  text: string;
  zero: string;
  font: string;
}

/** Size the canvas backing store for the device pixel ratio; returns a context in CSS pixels. */
function prepare(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const hgt = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== hgt) canvas.height = hgt;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}

function scaled(count: number, max: number, log: boolean): number {
  if (max <= 0 || count <= 0) return 0;
  return log ? Math.log1p(count) / Math.log1p(max) : count / max;
}

/** A tiny bar sparkline (no axes); log counts, so the shape of the tails shows at 16 pixels. */
export function drawSparkline(
  canvas: HTMLCanvasElement,
  histogram: Histogram | undefined,
  color: string,
): void {
  const width = 72;
  const height = 16;
  const ctx = prepare(canvas, width, height);
  if (!ctx || !histogram || histogram.counts.length === 0) return;
  const counts = histogram.counts;
  const max = Math.max(...counts);
  const bw = width / counts.length;
  ctx.fillStyle = color;
  for (let i = 0; i < counts.length; i++) {
    const h = scaled(counts[i], max, true) * height;
    if (h > 0)
      ctx.fillRect(i * bw, height - Math.max(1, h), Math.max(bw - (bw > 2 ? 0.5 : 0), 0.75), Math.max(1, h));
  }
}

export interface HistogramLayout {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}

/** The full histogram with a count axis, the value range, and a marker at zero. */
export function drawHistogram(
  canvas: HTMLCanvasElement,
  histogram: Histogram | undefined,
  width: number,
  height: number,
  log: boolean,
  colors: HistogramColors,
  highlight?: number,
): HistogramLayout {
  const layout: HistogramLayout = {
    left: 52,
    right: width - 12,
    top: 10,
    bottom: height - 22,
    width,
    height,
  };
  const ctx = prepare(canvas, width, height);
  if (!ctx) return layout;
  ctx.font = colors.font;
  ctx.textBaseline = 'middle';
  const plotW = layout.right - layout.left;
  const plotH = layout.bottom - layout.top;
  const counts = histogram?.counts ?? [];
  const max = counts.length ? Math.max(...counts) : 0;

  // Count axis: three grid lines.
  ctx.strokeStyle = colors.axis;
  ctx.fillStyle = colors.text;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  for (const f of [0, 0.5, 1]) {
    const y = Math.round(layout.bottom - f * plotH) + 0.5;
    ctx.globalAlpha = f === 0 ? 1 : 0.35;
    ctx.beginPath();
    ctx.moveTo(layout.left, y);
    ctx.lineTo(layout.right, y);
    ctx.stroke();
    ctx.globalAlpha = 1;
    const value = log ? Math.expm1(f * Math.log1p(max)) : f * max;
    ctx.fillText(formatCompact(Math.round(value)), layout.left - 6, y);
  }
  if (!histogram || counts.length === 0 || max === 0) {
    ctx.textAlign = 'center';
    ctx.fillText('no finite values', layout.left + plotW / 2, layout.top + plotH / 2);
    return layout;
  }

  const bw = plotW / counts.length;
  const gap = bw >= 4 ? 1 : 0;
  for (let i = 0; i < counts.length; i++) {
    const h = scaled(counts[i], max, log) * plotH;
    if (h <= 0) continue;
    ctx.fillStyle = colors.bar;
    ctx.globalAlpha = highlight === undefined || highlight === i ? 1 : 0.75;
    ctx.fillRect(
      layout.left + i * bw + gap / 2,
      layout.bottom - Math.max(1, h),
      Math.max(bw - gap, 0.75),
      Math.max(1, h),
    );
  }
  ctx.globalAlpha = 1;

  // Value axis: min, 0 (when inside the range), max.
  const { min, max: hi } = histogram;
  ctx.fillStyle = colors.text;
  ctx.textBaseline = 'top';
  const labelY = layout.bottom + 6;
  ctx.textAlign = 'left';
  ctx.fillText(formatStat(min), layout.left, labelY);
  ctx.textAlign = 'right';
  ctx.fillText(formatStat(hi), layout.right, labelY);
  if (min < 0 && hi > 0) {
    const x = Math.round(layout.left + ((0 - min) / (hi - min)) * plotW) + 0.5;
    ctx.strokeStyle = colors.zero;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x, layout.top);
    ctx.lineTo(x, layout.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    const zeroLabelFits = x - layout.left > 40 && layout.right - x > 40;
    if (zeroLabelFits) {
      ctx.textAlign = 'center';
      ctx.fillText('0', x, labelY);
    }
  }
  return layout;
}

/** The bin under a mouse x position (CSS pixels), if any. */
export function binAt(
  layout: HistogramLayout,
  histogram: Histogram | undefined,
  x: number,
): number | undefined {
  if (!histogram || histogram.counts.length === 0 || x < layout.left || x > layout.right) return undefined;
  const i = Math.floor(((x - layout.left) / (layout.right - layout.left)) * histogram.counts.length);
  return Math.min(histogram.counts.length - 1, Math.max(0, i));
}

/** The value range [lo, hi) of bin `i`. */
export function binRange(histogram: Histogram, i: number): [number, number] {
  const w = (histogram.max - histogram.min) / histogram.counts.length;
  return [histogram.min + i * w, histogram.min + (i + 1) * w];
}
