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
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'FormatError';
  }
}
