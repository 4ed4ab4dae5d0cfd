/**
 * Instantiates a WebAssembly SIMD kernel module (one instance per thread, made on first use) and manages its
 * memory as one bump region per call. Undefined when this engine has no WebAssembly SIMD, or when the
 * kernels are switched off (tests compare both paths): callers then run their scalar JS loops.
 */

/** The part of the WebAssembly API used here (its types are in lib.dom, which src/core does not load). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmGlobal {
  value: unknown;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}

const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let enabled = true;

/** Switches every SIMD kernel off (false) or back on; for tests that compare the two paths. */
export function setSimdEnabled(on: boolean): void {
  enabled = on;
}

/** A kernel module's exports and its growable memory. */
export class SimdModule<E> {
  private instance?: { exports: object };
  private failed = false;

  constructor(private readonly bytes: Uint8Array) {}

  /** The exports, or undefined when SIMD is off or unavailable. */
  exports(): (E & { memory: WasmMemory }) | undefined {
    if (!enabled || this.failed) return undefined;
    if (!this.instance) {
      if (!wasm || !wasm.validate(this.bytes)) {
        this.failed = true;
        return undefined;
      }
      // Synchronous compilation is fine off the browser main thread, and the modules are a few KB.
      this.instance = new wasm.Instance(new wasm.Module(this.bytes));
    }
    return this.instance.exports as E & { memory: WasmMemory };
  }

  /**
   * Grows the memory to at least `bytes` and returns its buffer. Growing detaches every earlier view, so a
   * call reserves all it needs first and makes its views afterwards.
   */
  reserve(memory: WasmMemory, bytes: number): ArrayBuffer {
    const have = memory.buffer.byteLength;
    if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
    return memory.buffer;
  }
}

/** Offsets of consecutive regions of the given byte sizes, each 16-byte aligned; the last is the end. */
export function layoutRegions(sizes: readonly number[]): number[] {
  const at = [0];
  for (const s of sizes) at.push(at[at.length - 1] + Math.ceil(s / 16) * 16);
  return at;
}
