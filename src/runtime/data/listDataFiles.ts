import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DataKind, DataError, dataKindOf, isSideFile, type SkippedFile } from './rawSample';

/** One data file found under a path, with the class its folder names (a folder per class). */
export interface DataFile {
  path: string;
  kind: DataKind;
  /** Index of its class folder among the sorted class folders, when the data is a folder per class. */
  label?: number;
}

/** The files under a data path and the kind most of them are. */
export interface DataListing {
  files: DataFile[];
  kind: DataKind;
  /** Class folder names by label index, when the folder holds one folder per class. */
  classes?: string[];
  skipped: SkippedFile[];
}

/** Most files read from one folder (deeper folders and more files are cut, and the listing says so). */
const MAX_FILES = 4096;

/**
 * Lists a data file or folder: a folder's files sorted by path (subfolders one level deep; when it holds
 * only subfolders, each is a class, and its files carry that label), side files (labels, recipes,
 * tokenizers, models, hidden files) left out. The data kind is that of most files; files of another kind
 * (except raw bytes, which any file is) are skipped with the reason. A missing path is a DataError.
 */
export function listDataFiles(target: string, kindHint?: DataKind): DataListing {
  if (!fs.existsSync(target)) throw new DataError(target, 'no such file or folder');
  const skipped: SkippedFile[] = [];
  const stat = fs.statSync(target);
  if (stat.isFile()) {
    const kind = kindHint ?? dataKindOf(target);
    return { files: [{ path: target, kind }], kind, skipped };
  }
  const entries = fs.readdirSync(target, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  const dirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const plain = entries.filter((e) => e.isFile() && !isSideFile(e.name));
  let files: DataFile[] = [];
  let classes: string[] | undefined;
  if (dirs.length >= 2 && plain.length === 0) {
    classes = dirs.map((d) => d.name);
    dirs.forEach((d, label) => {
      for (const f of fs.readdirSync(path.join(target, d.name)).sort())
        if (!isSideFile(f) && fs.statSync(path.join(target, d.name, f)).isFile())
          files.push({ path: path.join(target, d.name, f), kind: dataKindOf(f), label });
    });
  } else {
    for (const e of plain) files.push({ path: path.join(target, e.name), kind: dataKindOf(e.name) });
    for (const d of dirs)
      for (const f of fs.readdirSync(path.join(target, d.name)).sort())
        if (!isSideFile(f) && fs.statSync(path.join(target, d.name, f)).isFile())
          files.push({ path: path.join(target, d.name, f), kind: dataKindOf(f) });
  }
  if (files.length > MAX_FILES) {
    skipped.push({ path: target, reason: `holds ${files.length} files; the first ${MAX_FILES} are read` });
    files = files.slice(0, MAX_FILES);
  }
  if (files.length === 0) throw new DataError(target, 'holds no data files');
  const kind = kindHint ?? majorityKind(files);
  const kept: DataFile[] = [];
  for (const f of files) {
    if (kind === 'bytes' || f.kind === kind) kept.push({ ...f, kind });
    else skipped.push({ path: f.path, reason: `is ${article(f.kind)} file; this folder holds ${kind} data` });
  }
  return { files: kept, kind, classes, skipped };
}

function majorityKind(files: DataFile[]): DataKind {
  const counts = new Map<DataKind, number>();
  for (const f of files) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
  let best: DataKind = files[0].kind;
  for (const [k, n] of counts) if (n > (counts.get(best) ?? 0)) best = k;
  return best;
}

function article(kind: DataKind): string {
  return kind === 'image'
    ? 'an image'
    : kind === 'audio'
      ? 'an audio'
      : kind === 'npy'
        ? 'a .npy'
        : `a ${kind}`;
}

/**
 * Class labels by file from `labels.json` ({"file": index}) or a CSV (`file,index` per line, an optional
 * header), names relative to the labels file's folder (or bare file names). Returns undefined when the
 * file does not exist.
 */
export function readLabels(file: string): Map<string, number> | undefined {
  if (!fs.existsSync(file)) return undefined;
  const dir = path.dirname(file);
  const out = new Map<string, number>();
  const add = (name: string, v: unknown, where: string) => {
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    if (!Number.isInteger(n) || n < 0)
      throw new DataError(file, `${where}: label "${String(v)}" is not a class index`);
    out.set(path.resolve(dir, name.trim()), n);
  };
  const text = fs.readFileSync(file, 'utf8');
  if (file.toLowerCase().endsWith('.json')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new DataError(file, `is not JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      throw new DataError(file, 'must map file names to class indices');
    for (const [k, v] of Object.entries(obj)) add(k, v, `"${k}"`);
  } else {
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      const comma = line.lastIndexOf(',');
      if (comma < 0) throw new DataError(file, `line ${i + 1} is not "file,index"`);
      const value = line.slice(comma + 1).trim();
      if (i === 0 && !/^\d+$/.test(value)) return; // a header
      add(line.slice(0, comma), value, `line ${i + 1}`);
    });
  }
  return out;
}
