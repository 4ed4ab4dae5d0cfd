import * as path from 'node:path';
import type { InspectReport } from '../core/inspect/inspectReport';
import { summarizeModel } from '../core/inspect/summarizeModel';
import { tensorStatistics } from '../core/inspect/tensorStatistics';
import { findDuplicates } from '../core/inspect/findDuplicates';
import type { TensorStatsResult } from '../protocol/worker';
import { asModelError, openModel } from './openModel';
import { defaultPoolSize, WorkerPool } from './workerPool';

export interface InspectOptions {
  bins?: number;
  /** Worker threads for statistics; 1 computes in this thread. Default: one per core. */
  threads?: number;
  /** Where dist/worker.js is (default: beside the running bundle). */
  workerScript?: string;
}

/** Below this many stored bytes, starting workers costs more than it saves. */
const PARALLEL_MIN_BYTES = 32 << 20;

/** The full inspect report of a model file: overview, tensors, statistics and duplicates. */
export async function inspectModel(modelPath: string, options: InspectOptions = {}): Promise<InspectReport> {
  const bins = options.bins ?? 64;
  const model = openModel(modelPath);
  try {
    const report = summarizeModel(model.index, model.file);
    const results = new Map<number, TensorStatsResult>();
    const total = model.index.tensors.reduce((a, t) => a + t.storedBytes, 0);
    const threads = options.threads ?? defaultPoolSize();
    if (threads > 1 && total >= PARALLEL_MIN_BYTES) {
      const pool = new WorkerPool(options.workerScript ?? path.join(__dirname, 'worker.js'), {
        size: threads,
      });
      try {
        const tasks = model.index.tensors.map((t) => ({ id: t.id, bytes: t.storedBytes }));
        await pool.computeStats(model.path, 'inspect', tasks, {
          bins,
          onResult: (r) => results.set(r.id, r),
        });
      } finally {
        pool.dispose();
      }
    } else {
      for (const t of model.index.tensors) {
        try {
          results.set(t.id, {
            id: t.id,
            ...tensorStatistics(model.index, t.id, model.source, model.resolveExternal, { bins }),
          });
        } catch (e) {
          results.set(t.id, { id: t.id, error: asModelError(modelPath, e).reason });
        }
      }
    }
    for (const t of report.tensors) {
      const r = results.get(t.id);
      if (r?.error) throw asModelError(modelPath, new Error(`tensor ${t.name}: ${r.error}`));
      if (r?.stats) t.stats = r.stats;
      if (r?.dequantized) t.dequantized = r.dequantized;
    }
    const duplicates = findDuplicates(model.index.tensors, (id) => results.get(id)?.hash);
    for (const [id, names] of duplicates) report.tensors[id].duplicates = names;
    return report;
  } finally {
    model.close();
  }
}
