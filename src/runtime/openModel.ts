import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ByteSource, ExternalDataResolver } from '../core/io/byteSource';
import { FormatError, ModelError } from '../core/errors';
import type { FileSummary } from '../core/inspect/inspectReport';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { indexModel } from '../core/onnx/indexModel';
import { FileByteSource } from './fileByteSource';

/** An indexed model with its file open for reads by offset. Close it when done. */
export interface OpenedModel {
  path: string;
  index: ModelIndex;
  source: ByteSource;
  resolveExternal: ExternalDataResolver;
  file: FileSummary;
  close(): void;
}

/** The model's bytes with its external data files. */
export function modelBytesOf(model: OpenedModel): number {
  return model.file.bytes + model.file.externalFiles.reduce((a, f) => a + f.bytes, 0);
}

/**
 * Opens and indexes a model. Every problem (missing file, not ONNX, truncated, external data that is
 * missing or leaves the model's folder) becomes a ModelError naming the file and the reason.
 */
export function openModel(modelPath: string): OpenedModel {
  const abs = path.resolve(modelPath);
  let source: FileByteSource;
  try {
    const stat = fs.statSync(abs);
    if (stat.isDirectory()) throw new ModelError(modelPath, 'is a folder, not an ONNX file');
    source = new FileByteSource(abs);
  } catch (e) {
    throw asModelError(modelPath, e);
  }
  const externals = new Map<string, FileByteSource>();
  const close = () => {
    source.close();
    for (const s of externals.values()) s.close();
    externals.clear();
  };
  try {
    const index = indexModel(source);
    const resolveExternal: ExternalDataResolver = (location) => {
      let s = externals.get(location);
      if (!s) externals.set(location, (s = openExternal(abs, location)));
      return s;
    };
    const file: FileSummary = {
      path: modelPath,
      bytes: source.size,
      externalFiles: index.externalLocations.map((location) => {
        const s = resolveExternal(location) as FileByteSource;
        return { path: path.join(path.dirname(modelPath), location), bytes: s.size };
      }),
    };
    return { path: abs, index, source, resolveExternal, file, close };
  } catch (e) {
    close();
    throw asModelError(modelPath, e);
  }
}

/** Opens an external data file, refusing one that resolves (through links) outside the model's folder. */
export function openExternal(modelPath: string, location: string): FileByteSource {
  const folder = fs.realpathSync(path.dirname(modelPath));
  const target = path.join(folder, location);
  let real: string;
  try {
    real = fs.realpathSync(target);
  } catch {
    throw new FormatError(`external data file "${location}" does not exist`);
  }
  const rel = path.relative(folder, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new FormatError(`external data file "${location}" resolves outside the model's folder (${real})`);
  }
  if (!fs.statSync(real).isFile()) throw new FormatError(`external data "${location}" is not a file`);
  return new FileByteSource(real);
}

/** Turns any error met while reading a model into a ModelError that names the file. */
export function asModelError(file: string, e: unknown): ModelError {
  if (e instanceof ModelError) return e;
  if (e instanceof FormatError) return new ModelError(file, e.message);
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT':
      return new ModelError(file, 'no such file');
    case 'EACCES':
    case 'EPERM':
      return new ModelError(file, 'permission denied');
    case 'EISDIR':
      return new ModelError(file, 'is a folder, not an ONNX file');
  }
  if (e instanceof RangeError) return new ModelError(file, e.message);
  return new ModelError(file, err?.message ?? String(e));
}
