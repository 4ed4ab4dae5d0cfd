/** Why a model could not be read or written; `file` names the file, `reason` says what is wrong with it. */
export class ModelError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ModelError';
  }
}

/** A structural problem found while scanning bytes; becomes a ModelError once the file name is known. */
export class FormatError extends Error {
  /** The message without the `(at byte N)` suffix. */
  readonly detail: string;

  constructor(
    message: string,
    readonly offset?: number,
    /**
     * For a value that runs past the end of its message or file: the offset its end needs (the file is
     * truncated when this lies past the file's end).
     */
    readonly needs?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'FormatError';
    this.detail = message;
  }
}
