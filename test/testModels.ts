// Where the tests find their models: test/models (committed, see its README.md) and, only when
// BIG_SHRINK_SHARED names a folder with a models/ inside, that extra corpus.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root, found from this file's place (test/ when run by ts-node, dist/test/... when bundled). */
export const REPO_ROOT = findRoot(__dirname);

/** The project's own test models (test/models). */
export const TEST_MODELS = path.join(REPO_ROOT, 'test', 'models');

/** `<BIG_SHRINK_SHARED>/models` when that variable is set and the folder exists; never needed by a test. */
export const EXTRA_MODELS: string | undefined = extraModels();

/** Absolute path of a test model: `testModel('tiny_bert_random_inline.onnx')`. Throws when it is missing. */
export function testModel(name: string): string {
  const file = path.join(TEST_MODELS, name);
  if (!fs.existsSync(file)) throw new Error(`test model ${name} is missing from ${TEST_MODELS}`);
  return file;
}

function extraModels(): string | undefined {
  const shared = process.env.BIG_SHRINK_SHARED;
  if (!shared) return undefined;
  const dir = path.join(shared, 'models');
  return fs.existsSync(dir) ? dir : undefined;
}

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'test', 'models')))
      return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the repository root above ${start}`);
  }
}
