/** WebAssembly text files are assembled at build time (esbuild.js) and imported as their binary. */
declare module '*.wat' {
  const bytes: Uint8Array;
  export default bytes;
}
