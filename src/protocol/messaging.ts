/**
 * One small request/response helper for both channels (host<->webview, host<->worker).
 *
 * Every message is a plain object with a string `type`. A request carries a `messageId`; its answer
 * carries `inReplyTo` with the same number. Messages without `inReplyTo` are events and go to the
 * handler. An answer of type `error` rejects the request with a {@link RemoteError}.
 */

/** The envelope fields every message may carry. */
export interface Envelope {
  type: string;
  messageId?: number;
  inReplyTo?: number;
}

/** The error an answer of type `error` turns into; `file` and `reason` as in ModelError. */
export class RemoteError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(file ? `${file}: ${reason}` : reason);
    this.name = 'RemoteError';
  }
}

/** A request that got no answer in time, or whose channel closed. */
export class ChannelClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelClosedError';
  }
}

interface Pending {
  resolve(message: Envelope): void;
  reject(error: Error): void;
  expected: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** `Out` is what this side sends, `In` what it receives. */
export class Messenger<Out extends Envelope, In extends Envelope> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly send: (message: Out) => void,
    private readonly onEvent: (message: In) => void,
  ) {}

  /** Feed every incoming message here: answers settle their request, the rest go to the handler. */
  receive(message: In): void {
    if (message.inReplyTo !== undefined) {
      const pending = this.pending.get(message.inReplyTo);
      if (pending) {
        this.settle(message.inReplyTo, pending, message);
        return;
      }
    }
    this.onEvent(message);
  }

  /** Send an event (no answer expected). */
  post(message: Out): void {
    if (!this.closed) this.send(message);
  }

  /** Send `message` as a request and wait for its answer, which must be of type `expected`. */
  request<T extends In['type']>(
    message: Out,
    expected: T,
    timeoutMs?: number,
  ): Promise<Extract<In, { type: T }>> {
    if (this.closed) return Promise.reject(new ChannelClosedError('channel is closed'));
    const messageId = this.nextId++;
    return new Promise<Extract<In, { type: T }>>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (m: Envelope) => void, reject, expected };
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          this.pending.delete(messageId);
          reject(new ChannelClosedError(`no answer to ${message.type} after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.set(messageId, pending);
      this.send({ ...message, messageId });
    });
  }

  /** Answer a request. */
  reply(request: In, message: Out): void {
    if (request.messageId === undefined) throw new Error(`${request.type} is not a request`);
    this.post({ ...message, inReplyTo: request.messageId });
  }

  /** Reject every open request (the other side went away). */
  close(reason = 'channel closed'): void {
    this.closed = true;
    for (const [id, pending] of this.pending) {
      if (pending.timer) clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(new ChannelClosedError(reason));
    }
  }

  private settle(id: number, pending: Pending, message: In): void {
    this.pending.delete(id);
    if (pending.timer) clearTimeout(pending.timer);
    if (message.type === pending.expected) {
      pending.resolve(message);
    } else if (message.type === 'error') {
      const { file, reason } = message as unknown as { file?: string; reason?: string };
      pending.reject(new RemoteError(file ?? '', reason ?? 'unknown error'));
    } else {
      pending.reject(new Error(`expected ${pending.expected} in reply, got ${message.type}`));
    }
  }
}

/** Compile-time exhaustiveness check for `switch (message.type)` defaults. */
export function assertNever(value: never): never {
  throw new Error(`unhandled message: ${JSON.stringify(value)}`);
}
