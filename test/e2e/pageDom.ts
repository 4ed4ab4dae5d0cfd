// The page as frame.evaluate() callbacks see it. They run inside the webview (serialized: `document` is the
// page's own), but the Node-side tsconfig has no DOM library: a module declares
// `declare const document: PageDocument;` with these minimal shapes. Types only (an import of a value
// would not exist inside the page).

export interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  /** Layout sizes (a cut-off label has scrollWidth > clientWidth) and the tooltip. */
  scrollWidth: number;
  clientWidth: number;
  title: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
}

/** A canvas, as a painted-pixel count needs it. */
export interface PageCanvas {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

export interface PageDocument {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  body: { classList: { contains(name: string): boolean } };
}
