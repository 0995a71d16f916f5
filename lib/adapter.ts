/**
 * `libsql()`: Flue's `PersistenceAdapter` over the native runner — the whole of a db.ts.
 *
 *   import { libsql } from 'flue-libsql';
 *   export default libsql({ url: process.env.LIBSQL_URL, authToken: process.env.LIBSQL_AUTH_TOKEN });
 */
import type { PersistenceAdapter, PersistenceStores } from '@flue/runtime/adapter';
import { open, type Database, type OpenOptions } from './database.js';
import { migrateFlueSchemaOverRunner, toFlueError } from './flue-schema.js';
import type { Runner } from './runner.js';
import { createStores } from './stores/index.js';

/** Used when neither `url` nor `LIBSQL_URL` / `TURSO_DATABASE_URL` is set (relative to the working directory). */
export const DEFAULT_URL = 'file:.flue/flue.db';

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
export function libsql(options: LibsqlAdapterOptions | Runner = {}): LibsqlAdapter {
  return isRunner(options) ? runnerAdapter(options) : nativeAdapter(resolveOptions(options));
}

export function resolveOptions(options: LibsqlAdapterOptions, env: NodeJS.ProcessEnv = process.env): OpenOptions {
  const pick = (...values: (string | undefined)[]) => values.find((value) => value !== undefined && value !== '');
  return {
    ...options,
    url: pick(options.url, env.LIBSQL_URL, env.TURSO_DATABASE_URL) ?? DEFAULT_URL,
    authToken: pick(options.authToken, env.LIBSQL_AUTH_TOKEN, env.TURSO_AUTH_TOKEN),
  };
}

function nativeAdapter(options: OpenOptions): LibsqlAdapter {
  let database: Promise<Database> | undefined;
  let migrated: Promise<void> | undefined;

  // A failed open or migrate is not cached: the next call (a restart, a retry) tries again.
  const opened = () =>
    (database ??= open(options).catch((error: unknown) => {
      database = undefined;
      throw error;
    }));
  const migrate = () =>
    (migrated ??= opened()
      .then((db) => db.migrateFlueSchema())
      .then(
        () => undefined,
        (error: unknown) => {
          migrated = undefined;
          throw toFlueError(error);
        },
      ));

  return {
    migrate,
    async connect() {
      // Flue calls migrate() first; connecting without it still gets a checked, stamped store.
      await migrate();
      return createStores(await opened());
    },
    async close() {
      const db = database;
      database = undefined;
      migrated = undefined;
      // An open that fails left nothing to close; its error belongs to the call that opened.
      const opened = await db?.catch(() => undefined);
      await opened?.close();
    },
  };
}

function runnerAdapter(runner: Runner): LibsqlAdapter {
  let migrated: Promise<void> | undefined;
  // A hand-written runner's close() need not be idempotent (pg's Pool.end() throws the second time).
  let closed: Promise<void> | undefined;
  const migrate = () =>
    (migrated ??= migrateFlueSchemaOverRunner(runner).catch((error: unknown) => {
      migrated = undefined;
      throw error;
    }));
  return {
    migrate,
    async connect() {
      await migrate();
      return createStores(runner);
    },
    close: () => (closed ??= runner.close()),
  };
}

function isRunner(value: unknown): value is Runner {
  const candidate = value as Partial<Runner> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.query === 'function' &&
    typeof candidate.transaction === 'function' &&
    typeof candidate.close === 'function'
  );
}
