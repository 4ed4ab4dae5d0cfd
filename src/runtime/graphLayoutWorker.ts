import { Worker } from 'node:worker_threads';
import { ChannelClosedError, Messenger } from '../protocol/messaging';
import type {
  FromGraphWorker,
  GraphLaidOutReply,
  GraphLayoutRequest,
  ToGraphWorker,
} from '../protocol/graphWorker';
import { workerScript } from './workerScript';

/** What to lay out: graph `graph` of the model at `path` (or a given graph model), some blocks expanded. */
export type GraphLayoutAsk = Omit<GraphLayoutRequest, 'type' | 'messageId' | 'inReplyTo'>;

/**
 * The graph layout worker (dist/graphWorker.js), started on the first request and stopped after a
 * minute without one. Requests run one at a time in order; `dispose` rejects the open ones.
 */
export class GraphLayoutWorker {
  private worker: Worker | undefined;
  private messenger: Messenger<ToGraphWorker, FromGraphWorker> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private busy = 0;
  private disposed = false;

  constructor(
    private readonly script = workerScript('graphWorker.js'),
    private readonly idleMs = 60_000,
  ) {}

  /** Builds and lays out the graph in the worker. */
  async layout(ask: GraphLayoutAsk): Promise<GraphLaidOutReply> {
    if (this.disposed) throw new ChannelClosedError('graph layout worker disposed');
    const messenger = this.start();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.busy++;
    this.worker?.ref();
    try {
      return await messenger.request({ type: 'graph/layout', ...ask }, 'graph/laidOut');
    } finally {
      this.busy--;
      if (this.busy === 0) {
        this.worker?.unref();
        this.idleTimer = setTimeout(() => this.stop('idle'), this.idleMs);
        this.idleTimer.unref?.();
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.stop('graph layout worker disposed');
  }

  private start(): Messenger<ToGraphWorker, FromGraphWorker> {
    if (this.messenger) return this.messenger;
    const worker = new Worker(this.script);
    const messenger = new Messenger<ToGraphWorker, FromGraphWorker>(
      (m) => worker.postMessage(m),
      () => undefined,
    );
    worker.on('message', (m: FromGraphWorker) => messenger.receive(m));
    const fail = (reason: string) => {
      if (this.worker === worker) this.stop(reason);
    };
    worker.on('error', (e) => fail(`graph layout worker failed: ${e.message}`));
    worker.on('exit', (code) => fail(`graph layout worker exited with code ${code}`));
    worker.unref();
    this.worker = worker;
    this.messenger = messenger;
    return messenger;
  }

  private stop(reason: string): void {
    const worker = this.worker;
    this.messenger?.close(reason);
    this.worker = undefined;
    this.messenger = undefined;
    if (worker) void worker.terminate();
  }
}
