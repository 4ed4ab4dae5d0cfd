import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';

/** A file on disk holding a resource's bytes; `dispose` removes it. */
export interface LocalCopy {
  file: string;
  dispose(): void;
}

/** A new temporary folder (`big-shrink-<what>-…`) and a way to remove it. */
export function tempFolder(what: string): { dir: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `big-shrink-${what}-`));
  return { dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The bytes of a resource that is not a file on disk (the `git:` side of a diff, a remote file system) copied
 * into a temporary folder under its own name, so the CLI and the workers can read it by offset.
 */
export async function localCopy(uri: vscode.Uri): Promise<LocalCopy> {
  const bytes = await vscode.workspace.fs.readFile(uri);
  const folder = tempFolder('view');
  try {
    const file = path.join(folder.dir, path.basename(uri.path) || 'model.onnx');
    fs.writeFileSync(file, bytes);
    return { file, dispose: folder.dispose };
  } catch (e) {
    folder.dispose();
    throw e;
  }
}
