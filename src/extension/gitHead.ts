/**
 * HEAD's version of a file in a git repository, written to a temporary folder: for "Compare with HEAD" on
 * a changed .onnx. The built-in git extension gives the git executable and the repository; the bytes come
 * from `git show HEAD:<path>` streamed to the file (binary-safe, any size), and so do external data files
 * the old model names.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { tempFolder } from './localCopy';

/** The part of the git extension's API (vscode.git, API version 1) used here. */
interface GitApi {
  git: { path: string };
  getRepository(uri: vscode.Uri): { rootUri: vscode.Uri } | null;
}

/** HEAD's copy of a model; `fetchExternal` brings one of its external data files beside it. */
export interface HeadCopy {
  file: string;
  fetchExternal(location: string): Promise<void>;
  dispose(): void;
}

async function gitApi(): Promise<GitApi | undefined> {
  const ext = vscode.extensions.getExtension<{ getAPI(version: 1): GitApi }>('vscode.git');
  if (!ext) return undefined;
  try {
    const exports = ext.isActive ? ext.exports : await ext.activate();
    return exports.getAPI(1);
  } catch {
    return undefined;
  }
}

/** Runs git and collects stdout as text (small answers). */
function gitText(git: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(git, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(err.trim() || `git exited with ${code}`)),
    );
  });
}

/** `git show HEAD:<rel>` into `target`. */
function gitShow(git: string, root: string, rel: string, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const out = fs.createWriteStream(target);
    const child = spawn(git, ['show', `HEAD:${rel}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.stdout.pipe(out);
    child.once('error', reject);
    child.once('close', (code) => {
      out.close(() => {
        if (code === 0) resolve();
        else
          reject(
            new Error(
              /does not exist|exists on disk, but not in/.test(err) ? `${rel} is not in HEAD` : err.trim(),
            ),
          );
      });
    });
  });
}

/** HEAD's version of `uri` (a file in a git working tree) in a temporary folder. */
export async function headCopy(uri: vscode.Uri): Promise<HeadCopy> {
  const api = await gitApi();
  const git = api?.git.path || 'git';
  const repo = api?.getRepository(uri);
  const root = repo
    ? repo.rootUri.fsPath
    : await gitText(git, ['rev-parse', '--show-toplevel'], path.dirname(uri.fsPath));
  const rel = path.relative(root, uri.fsPath).split(path.sep).join('/');
  if (rel.startsWith('..')) throw new Error(`${uri.fsPath} is not inside the repository at ${root}`);
  const folder = tempFolder('head');
  const file = path.join(folder.dir, path.basename(uri.fsPath));
  try {
    await gitShow(git, root, rel, file);
  } catch (e) {
    folder.dispose();
    throw e;
  }
  return {
    file,
    fetchExternal: async (location) => {
      const norm = path.posix.normalize(location.split('\\').join('/'));
      if (norm.startsWith('..') || path.posix.isAbsolute(norm))
        throw new Error(`refusing external data "${location}"`);
      await gitShow(git, root, path.posix.join(path.posix.dirname(rel), norm), path.join(folder.dir, norm));
    },
    dispose: folder.dispose,
  };
}
