/**
 * The one error class for everything the database or the connection refuses, and its codes.
 *
 * `code` is SQLite's result-code name (`SQLITE_CONSTRAINT_PRIMARYKEY`, `SQLITE_BUSY`,
 * `SQLITE_NOTADB`, ...) or one of the runner's own (`RUNNER_ERROR_CODES`, explained in
 * docs/api.md, "Error codes"). `rawCode` is SQLite's extended result code when SQLite produced
 * the error. Wrong argument types are `TypeError`s and out-of-range values `RangeError`s
 * instead; bad `open()` options are `TypeError`s with code `INVALID_OPTION`.
 */

/**
 * The runner's own codes, as the native core names them (src/error.rs, `ErrorCode::RUNNER`;
 * __test__/repo/error-codes.test.ts checks the two lists and docs/api.md's table are one set).
 */
export const RUNNER_ERROR_CODES = [
  'CLIENT_CLOSED',
  'TRANSACTION_STATE',
  'TRANSACTION_CLOSED',
  'TRANSACTION_EXPIRED',
  'MIGRATION_CHANGED',
  'MIGRATION_UNKNOWN',
  'MIGRATION_STATE',
  'FLUE_FORMAT_VERSION',
  'SERVER_UNREACHABLE',
  'TLS_FAILED',
  'REQUEST_TIMEOUT',
  'AUTH_FAILED',
  'SERVER_ERROR',
  'STREAM_EXPIRED',
  'SYNC_FAILED',
  'SYNC_NOT_SUPPORTED',
  'CONNECTION_FAILED',
  'LIBSQL_ERROR',
  'INTERNAL',
  'INVALID_OPTION',
  'ERR_INVALID_ARG_TYPE',
  'ERR_OUT_OF_RANGE',
] as const;

export type RunnerErrorCode = (typeof RUNNER_ERROR_CODES)[number];

/** What a `LibsqlError`'s `code` can be: SQLite's name of a result code, or one of the runner's own. */
export type LibsqlErrorCode = RunnerErrorCode | `SQLITE_${string}`;

/** SQLite's result codes the JS layer looks at (the primary code is the low byte of an extended one). */
export const SQLITE_BUSY = 5;

export class LibsqlError extends Error {
  readonly code: LibsqlErrorCode;
  readonly rawCode: number | undefined;

  constructor(message: string, code: LibsqlErrorCode, rawCode?: number) {
    super(message);
    this.name = 'LibsqlError';
    this.code = code;
    this.rawCode = rawCode;
  }
}
