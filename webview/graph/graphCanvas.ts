/**
 * Draws a laid-out graph on a canvas: only what is inside the viewport, text only when it is legible,
 * one frame per animation frame however many events come. Drag pans, Ctrl/⌘+wheel (or a pinch) zooms
 * at the pointer, the wheel scrolls. Positions come from the layout worker; nothing is laid out here.
 */
import type { GraphModel } from '../../src/core/graph/graphModel';
import { type Box, type GraphLayout, shortName } from '../../src/core/graph/layoutGraph';
import { themeColor } from '../modelEditor/dom';

/** What a pointer is over: a node, or a block (a collapsed box, or the title bar of an expanded frame). */
export type Hit = { kind: 'node'; index: number } | { kind: 'block'; index: number };

export interface CanvasCallbacks {
  click(hit: Hit | undefined): void;
  dblclick(hit: Hit | undefined): void;
  contextmenu(hit: Hit | undefined, x: number, y: number): void;
}

/** A node's colour and caption under the current overlay. */
export type NodePaint = (index: number) => { color: string; text: string } | undefined;

interface Colors {
  fg: string;
  muted: string;
  node: string;
  nodeBorder: string;
  io: string;
  block: string;
  edge: string;
  focus: string;
  selection: string;
  font: string;
}

const MIN_SCALE = 0.02;
const MAX_SCALE = 4;

export class GraphCanvas {
  readonly element: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private model: GraphModel | undefined;
  private layout: GraphLayout | undefined;
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private selected: Hit | undefined;
  private paint: NodePaint = () => undefined;
  private colors: Colors | undefined;
  private frame = 0;
  private drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | undefined;

  constructor(private readonly callbacks: CanvasCallbacks) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'graph-canvas';
    this.canvas.setAttribute('data-testid', 'graph-canvas');
    this.canvas.setAttribute('aria-hidden', 'true');
    this.element = document.createElement('div');
    this.element.className = 'graph-viewport';
    this.element.append(this.canvas);
    new ResizeObserver(() => this.schedule()).observe(this.element);
    this.canvas.addEventListener('pointerdown', (e) => this.onDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.onMove(e));
    this.canvas.addEventListener('pointerup', (e) => this.onUp(e));
    this.canvas.addEventListener('dblclick', (e) =>
      this.callbacks.dblclick(this.hitAt(e.offsetX, e.offsetY)),
    );
    this.canvas.addEventListener('contextmenu', (e) => {
      e.preventDefault();
      const hit = this.hitAt(e.offsetX, e.offsetY);
      if (hit) this.callbacks.click(hit);
      this.callbacks.contextmenu(hit, e.clientX, e.clientY);
    });
    this.canvas.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
  }

  setGraph(model: GraphModel, layout: GraphLayout): void {
    this.model = model;
    this.layout = layout;
    this.schedule();
  }

  setPaint(paint: NodePaint): void {
    this.paint = paint;
    this.schedule();
  }

  setSelected(hit: Hit | undefined): void {
    this.selected = hit;
    this.schedule();
  }

  themeChanged(): void {
    this.colors = undefined;
    this.schedule();
  }

  /** The box of a node or block, if drawn. */
  boxOf(hit: Hit): Box | undefined {
    if (!this.layout) return undefined;
    return hit.kind === 'node' ? (this.layout.nodes[hit.index] ?? undefined) : this.layout.blocks[hit.index];
  }

  /** Bring `box` into view (centred), zooming in to a legible size when the view is too far out. */
  reveal(box: Box, center = true): void {
    const { width, height } = this.size();
    if (this.scale < 0.6) this.scale = 0.9;
    const sx = box.x * this.scale + this.tx;
    const sy = box.y * this.scale + this.ty;
    const inside =
      sx >= 0 && sy >= 0 && sx + box.width * this.scale <= width && sy + box.height * this.scale <= height;
    if (center || !inside) {
      this.tx = width / 2 - (box.x + box.width / 2) * this.scale;
      this.ty = height / 2 - (box.y + box.height / 2) * this.scale;
    }
    this.schedule();
  }

  /** The whole graph in view (not smaller than legible boxes on a long graph: then its top). */
  fit(): void {
    if (!this.layout) return;
    const { width, height } = this.size();
    const s = Math.min(width / this.layout.width, height / this.layout.height, 1);
    this.scale = Math.max(s, Math.min(0.5, width / this.layout.width));
    this.tx = (width - this.layout.width * this.scale) / 2;
    this.ty = this.layout.height * this.scale < height ? (height - this.layout.height * this.scale) / 2 : 8;
    this.schedule();
  }

  zoomBy(factor: number, x?: number, y?: number): void {
    const { width, height } = this.size();
    const cx = x ?? width / 2;
    const cy = y ?? height / 2;
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    this.tx = cx - ((cx - this.tx) * next) / this.scale;
    this.ty = cy - ((cy - this.ty) * next) / this.scale;
    this.scale = next;
    this.schedule();
  }

  /** The view transform (`scale,tx,ty`), also kept in `data-view` for tests that click a node. */
  get view(): { scale: number; tx: number; ty: number } {
    return { scale: this.scale, tx: this.tx, ty: this.ty };
  }

  set view(v: { scale: number; tx: number; ty: number }) {
    this.scale = v.scale;
    this.tx = v.tx;
    this.ty = v.ty;
    this.schedule();
  }

  private size(): { width: number; height: number } {
    return { width: this.element.clientWidth || 600, height: this.element.clientHeight || 400 };
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private hitAt(x: number, y: number): Hit | undefined {
    if (!this.layout) return undefined;
    const gx = (x - this.tx) / this.scale;
    const gy = (y - this.ty) / this.scale;
    const inBox = (b: Box) => gx >= b.x && gx <= b.x + b.width && gy >= b.y && gy <= b.y + b.height;
    const nodes = this.layout.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const b = nodes[i];
      if (b && inBox(b)) return { kind: 'node', index: i };
    }
    for (let i = 0; i < this.layout.blocks.length; i++) {
      const b = this.layout.blocks[i];
      if (b.width === 0) continue;
      if (b.collapsed ? inBox(b) : inBox({ ...b, height: 18 })) return { kind: 'block', index: i };
    }
    return undefined;
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== 0) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
  }

  private onMove(e: PointerEvent): void {
    const d = this.drag;
    if (!d) return;
    if (Math.abs(e.clientX - d.x) + Math.abs(e.clientY - d.y) > 3) d.moved = true;
    if (!d.moved) return;
    this.tx = d.tx + e.clientX - d.x;
    this.ty = d.ty + e.clientY - d.y;
    this.canvas.classList.add('dragging');
    this.schedule();
  }

  private onUp(e: PointerEvent): void {
    const d = this.drag;
    this.drag = undefined;
    this.canvas.classList.remove('dragging');
    if (d && !d.moved) this.callbacks.click(this.hitAt(e.offsetX, e.offsetY));
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    if (e.ctrlKey || e.metaKey) {
      this.zoomBy(Math.exp(-e.deltaY * 0.0025), e.offsetX, e.offsetY);
      return;
    }
    this.tx -= e.shiftKey ? e.deltaY : e.deltaX;
    this.ty -= e.shiftKey ? 0 : e.deltaY;
    this.schedule();
  }

  private themeColors(): Colors {
    this.colors ??= {
      fg: themeColor('--vscode-editor-foreground', '#cccccc'),
      muted: themeColor('--vscode-descriptionForeground', '#999999'),
      node: themeColor('--vscode-editorWidget-background', '#252526'),
      nodeBorder:
        themeColor('--vscode-contrastBorder', '') ||
        themeColor('--vscode-widget-border', '') ||
        themeColor('--vscode-editorWidget-border', '#454545'),
      io: themeColor('--vscode-badge-background', '#4d4d4d'),
      block: themeColor('--vscode-editorGroup-border', '#444444'),
      edge: themeColor('--vscode-editorLineNumber-foreground', '#858585'),
      focus: themeColor('--vscode-focusBorder', '#007fd4'),
      selection: themeColor('--vscode-list-activeSelectionBackground', '#04395e'),
      font: getComputedStyle(document.body).getPropertyValue('--vscode-font-family').trim() || 'sans-serif',
    };
    return this.colors;
  }

  private draw(): void {
    const { width, height } = this.size();
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    this.canvas.setAttribute('data-view', `${this.scale},${this.tx},${this.ty}`);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const layout = this.layout;
    const model = this.model;
    if (!layout || !model) return;
    const c = this.themeColors();
    const s = this.scale;
    ctx.setTransform(dpr * s, 0, 0, dpr * s, dpr * this.tx, dpr * this.ty);
    // The viewport in graph coordinates, with a margin for strokes.
    const vx0 = -this.tx / s - 20;
    const vy0 = -this.ty / s - 20;
    const vx1 = (width - this.tx) / s + 20;
    const vy1 = (height - this.ty) / s + 20;
    const visible = (b: Box) => b.x < vx1 && b.x + b.width > vx0 && b.y < vy1 && b.y + b.height > vy0;
    const text = s >= 0.35;
    const sel = this.selected;

    // Expanded block frames, then collapsed block boxes.
    ctx.lineWidth = 1 / s;
    layout.blocks.forEach((b, i) => {
      if (b.width === 0 || !visible(b)) return;
      const isSel = sel?.kind === 'block' && sel.index === i;
      ctx.strokeStyle = isSel ? c.focus : c.block;
      ctx.lineWidth = (isSel ? 2 : 1) / s;
      if (b.collapsed) {
        roundRect(ctx, b, 8);
        ctx.fillStyle = c.node;
        ctx.fill();
        ctx.setLineDash([]);
        ctx.stroke();
      } else {
        ctx.setLineDash([6 / s, 4 / s]);
        roundRect(ctx, b, 10);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      if (text) {
        const block = model.blocks[i];
        ctx.fillStyle = b.collapsed ? c.fg : c.muted;
        ctx.font = `${b.collapsed ? 'bold 13px' : '12px'} ${c.font}`;
        const label = b.collapsed ? `▸ ${block.label}` : `▾ ${block.label}`;
        ctx.fillText(label, b.x + 10, b.y + (b.collapsed ? 22 : 14), b.width - 20);
        if (b.collapsed) {
          ctx.font = `11px ${c.font}`;
          ctx.fillStyle = c.muted;
          ctx.fillText(
            `${block.nodes.length} nodes · double-click to expand`,
            b.x + 10,
            b.y + 40,
            b.width - 20,
          );
        }
      }
    });

    // Edges (with arrowheads; shape labels when zoomed in).
    ctx.strokeStyle = c.edge;
    ctx.fillStyle = c.edge;
    ctx.lineWidth = 1.2 / s;
    const labels: [string, number, number][] = [];
    for (const e of layout.edges) {
      const p = e.points;
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (let i = 0; i < p.length; i += 2) {
        x0 = Math.min(x0, p[i]);
        x1 = Math.max(x1, p[i]);
        y0 = Math.min(y0, p[i + 1]);
        y1 = Math.max(y1, p[i + 1]);
      }
      if (!visible({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 })) continue;
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      for (let i = 2; i < p.length; i += 2) ctx.lineTo(p[i], p[i + 1]);
      ctx.stroke();
      const n = p.length;
      arrow(ctx, p[n - 4], p[n - 3], p[n - 2], p[n - 1], 7);
      if (s >= 0.7 && e.shape) {
        const m = Math.floor(p.length / 4) * 2;
        labels.push([
          e.count > 1 ? `${e.shape} (+${e.count - 1})` : e.shape,
          (p[m] + p[m - 2 >= 0 ? m - 2 : m]) / 2,
          (p[m + 1] + p[m - 1 >= 0 ? m - 1 : m + 1]) / 2,
        ]);
      }
    }
    if (labels.length < 600) {
      ctx.font = `10px ${c.font}`;
      ctx.fillStyle = c.muted;
      for (const [t, x, y] of labels) ctx.fillText(t, x + 4, y);
    }

    // Nodes.
    model.nodes.forEach((node, i) => {
      const b = layout.nodes[i];
      if (!b || !visible(b)) return;
      const isSel = sel?.kind === 'node' && sel.index === i;
      const paint = this.paint(i);
      roundRect(ctx, b, node.kind === 'op' ? 6 : 14);
      ctx.fillStyle = isSel ? c.selection : node.kind === 'op' ? c.node : c.io;
      ctx.fill();
      if (paint) {
        ctx.save();
        ctx.clip();
        ctx.fillStyle = paint.color;
        ctx.globalAlpha = 0.28;
        ctx.fillRect(b.x, b.y, b.width, b.height);
        ctx.globalAlpha = 1;
        ctx.fillRect(b.x, b.y, 7, b.height);
        ctx.restore();
        roundRect(ctx, b, node.kind === 'op' ? 6 : 14);
      }
      ctx.strokeStyle = isSel ? c.focus : c.nodeBorder;
      ctx.lineWidth = (isSel ? 2.5 : 1) / s;
      ctx.stroke();
      if (!text) return;
      ctx.fillStyle = c.fg;
      ctx.font = `bold 12px ${c.font}`;
      const op = node.weights.length ? `${node.opType} ◆${node.weights.length}` : node.opType;
      ctx.fillText(
        node.kind === 'op' ? op : node.name,
        b.x + 11,
        b.y + (node.kind === 'op' ? 17 : 19),
        b.width - 16,
      );
      if (node.kind !== 'op') return;
      ctx.font = `11px ${c.font}`;
      ctx.fillStyle = c.muted;
      ctx.fillText(paint?.text ?? shortName(node), b.x + 11, b.y + 34, b.width - 16);
    });
  }
}

function roundRect(ctx: CanvasRenderingContext2D, b: Box, r: number): void {
  ctx.beginPath();
  ctx.roundRect(b.x, b.y, b.width, b.height, r);
}

function arrow(
  ctx: CanvasRenderingContext2D,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  size: number,
): void {
  const a = Math.atan2(y1 - y0, x1 - x0);
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - size * Math.cos(a - 0.4), y1 - size * Math.sin(a - 0.4));
  ctx.lineTo(x1 - size * Math.cos(a + 0.4), y1 - size * Math.sin(a + 0.4));
  ctx.closePath();
  ctx.fill();
}
