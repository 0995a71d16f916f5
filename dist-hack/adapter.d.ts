/**
 * `libsql()`: Flue's `PersistenceAdapter` over the native runner — the whole of a db.ts.
 *
 *   import { libsql } from 'flue-libsql';
 *   export default libsql({ url: process.env.LIBSQL_URL, authToken: process.env.LIBSQL_AUTH_TOKEN });
 */
import type { PersistenceAdapter, PersistenceStores } from '@flue/runtime/adapter';
import { type OpenOptions } from './database.js';
import type { Runner } from './runner.js';
/** Used when neither `url` nor `LIBSQL_URL` / `TURSO_DATABASE_URL` is set (relative to the working directory). */
export declare const DEFAULT_URL = "file:.flue/flue.db";
export type LibsqlAdapterOptions = Partial<OpenOptions>;
export interface LibsqlAdapter extends PersistenceAdapter {
    migrate(): Promise<void>;
    connect(): Promise<PersistenceStores>;
    close(): Promise<void>;
}
/**
 * Options as for `open()`; `url` falls back to `LIBSQL_URL`, then `TURSO_DATABASE_URL`, then
 * `DEFAULT_URL`, and `authToken` to `LIBSQL_AUTH_TOKEN`, then `TURSO_AUTH_TOKEN`.
 * A runner object (`{ query, transaction, close }`) is accepted in place of options.
 */
export declare function libsql(options?: LibsqlAdapterOptions | Runner): LibsqlAdapter;
export declare function resolveOptions(options: LibsqlAdapterOptions, env?: NodeJS.ProcessEnv): OpenOptions;
