/**
 * `libsql()`: Flue's `PersistenceAdapter` over the native runner — the whole of a db.ts.
 *
 *   import { libsql } from 'flue-libsql';
 *   export default libsql({ url: process.env.LIBSQL_URL, authToken: process.env.LIBSQL_AUTH_TOKEN });
 */
import type { PersistenceAdapter, PersistenceStores } from '@flue/runtime/adapter';
import { open } from '../database/database.js';
import type { OpenOptions, Runner } from '../types.js';

// Flue's modules (the stores, the stamp rules) load on first use, not at import: a program
// that only uses `open()` should not pay for @flue/runtime (tens of MB of code and heap).
const loadStores = () => import('./stores/index.js');
const loadFlueSchema = () => import('./schema.js');

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

/**
 * `task()` run once and shared while it is pending or succeeded; a failure is not kept, so
 * the next call (a restart, a retry) tries again. `forget()` drops a success too.
 */
function onceUntilFailure<T>(task: () => Promise<T>): { (): Promise<T>; forget(): Promise<T> | undefined } {
  let pending: Promise<T> | undefined;
  const run = () =>
    (pending ??= task().catch((error: unknown) => {
      pending = undefined;
      throw error;
    }));
  return Object.assign(run, {
    forget() {
      const current = pending;
      pending = undefined;
      return current;
    },
  });
}

/** Runs a Flue schema migration; a refused format stamp becomes Flue's own error. */
async function migrateFlue(migration: () => Promise<unknown>): Promise<void> {
  try {
    await migration();
  } catch (error) {
    throw (await loadFlueSchema()).toFlueError(error);
  }
}

function nativeAdapter(options: OpenOptions): LibsqlAdapter {
  const opened = onceUntilFailure(() => open(options));
  const migrate = onceUntilFailure(async () => {
    const db = await opened();
    await migrateFlue(() => db.migrateFlueSchema());
  });

  return {
    migrate,
    async connect() {
      // Flue calls migrate() first; connecting without it still gets a checked, stamped store.
      await migrate();
      return (await loadStores()).createStores(await opened());
    },
    async close() {
      migrate.forget();
      // An open that fails left nothing to close; its error belongs to the call that opened.
      const db = await opened.forget()?.catch(() => undefined);
      await db?.close();
    },
  };
}

function runnerAdapter(runner: Runner): LibsqlAdapter {
  const migrate = onceUntilFailure(async () => {
    const { migrateFlueSchemaOverRunner } = await loadFlueSchema();
    await migrateFlue(() => migrateFlueSchemaOverRunner(runner));
  });
  // A hand-written runner's close() need not be idempotent (pg's Pool.end() throws the second time).
  let closed: Promise<void> | undefined;
  return {
    migrate,
    async connect() {
      await migrate();
      return (await loadStores()).createStores(runner);
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
