/**
 * Two histograms over one range drawn on one canvas: the original (A) as filled bars, the candidate (B) as
 * a step outline over them, so the rounding grid of a quantized weight shows against the original's
 * shape. Theme colours only; the counts are also given as text for screen readers (the caller's caption).
 */
import type { SharedHistogram } from '../../src/core/diff/modelDiff';
import { themeColor } from '../modelEditor/dom';

export interface OverlayOptions {
  /** Counts on a log scale (a quantized weight's spikes dwarf the original's bins otherwise). */
  log: boolean;
}

const PAD = { left: 44, right: 8, top: 8, bottom: 22 };

/** Draws `a` and `b` (either may be absent) on `canvas`, sized to its CSS box. */
export function drawOverlay(
  canvas: HTMLCanvasElement,
  a: SharedHistogram | undefined,
  b: SharedHistogram | undefined,
  options: OverlayOptions,
): void {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 480;
  const height = canvas.clientHeight || 180;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const first = a ?? b;
  if (!first) return;
  const fg = themeColor('--vscode-foreground', '#888');
  const colorA = themeColor('--vscode-charts-blue', '#3794ff');
  const colorB = themeColor('--vscode-charts-orange', '#d18616');
  const bins = first.counts.length;
  const scale = (c: number) => (options.log ? Math.log10(1 + c) : c);
  const top = Math.max(1e-9, ...[a, b].flatMap((h) => (h ? h.counts.map(scale) : [])));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (plotW * i) / bins;
  const y = (c: number) => PAD.top + plotH * (1 - scale(c) / top);

  if (a) {
    ctx.globalAlpha = 0.45;
    ctx.fillStyle = colorA;
    a.counts.forEach((c, i) => {
      if (c > 0) ctx.fillRect(x(i), y(c), Math.max(1, x(i + 1) - x(i) - 0.5), PAD.top + plotH - y(c));
    });
    ctx.globalAlpha = 1;
  }
  if (b) {
    ctx.strokeStyle = colorB;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x(0), y(0));
    b.counts.forEach((c, i) => {
      ctx.lineTo(x(i), y(c));
      ctx.lineTo(x(i + 1), y(c));
    });
    ctx.lineTo(x(bins), y(0));
    ctx.stroke();
  }
  // Axes: the value range below, the highest count at the left.
  ctx.fillStyle = fg;
  ctx.strokeStyle = fg;
  ctx.globalAlpha = 0.6;
  ctx.beginPath();
  ctx.moveTo(PAD.left, PAD.top + plotH + 0.5);
  ctx.lineTo(PAD.left + plotW, PAD.top + plotH + 0.5);
  ctx.stroke();
  ctx.globalAlpha = 1;
  ctx.font = '10px sans-serif';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(formatEdge(first.min), PAD.left, PAD.top + plotH + 4);
  ctx.textAlign = 'right';
  ctx.fillText(formatEdge(first.max), PAD.left + plotW, PAD.top + plotH + 4);
  const maxCount = Math.max(...[a, b].flatMap((h) => (h ? h.counts : [])));
  ctx.textBaseline = 'top';
  ctx.fillText(String(maxCount), PAD.left - 4, PAD.top);
  ctx.textBaseline = 'bottom';
  ctx.fillText('0', PAD.left - 4, PAD.top + plotH);
}

function formatEdge(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toPrecision(3);
}
