import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A worker bundle (`verifyWorker.js`, `describeWorker.js`) by file name: beside the bundle that runs
 * (dist/cli.js, dist/extension.js) or above it (dist/test/…).
 */
export function workerScript(fileName: string): string {
  for (let dir = __dirname, i = 0; i < 4; i++, dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, fileName), path.join(dir, 'dist', fileName)]) {
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  throw new Error(`dist/${fileName} not found near ${__dirname}: run node esbuild.js`);
}
