/**
 * The one error class for everything the database or the connection refuses.
 *
 * `code` is SQLite's result-code name (`SQLITE_CONSTRAINT_PRIMARYKEY`, `SQLITE_BUSY`,
 * `SQLITE_NOTADB`, ...) or one of the runner's own codes (`CLIENT_CLOSED`,
 * `TRANSACTION_STATE`, `TRANSACTION_CLOSED`, `MIGRATION_CHANGED`, `MIGRATION_UNKNOWN`,
 * `FLUE_FORMAT_VERSION`, `SERVER_UNREACHABLE`, `AUTH_FAILED`, `SYNC_FAILED`, `INTERNAL`).
 * `rawCode` is SQLite's extended result code when SQLite produced the error.
 * Wrong argument types are `TypeError`s and out-of-range values `RangeError`s instead; bad
 * `open()` options are `TypeError`s with code `INVALID_OPTION`, whatever is wrong with them.
 */
export class LibsqlError extends Error {
    code;
    rawCode;
    constructor(message, code, rawCode) {
        super(message);
        this.name = 'LibsqlError';
        this.code = code;
        this.rawCode = rawCode;
    }
}
