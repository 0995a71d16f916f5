/**
 * The three Flue persistence adapters, each created on a fresh database file. Each factory
 * does its own imports, so the time to import + open + migrate is measured from nothing.
 * They are used as users get them: each adapter applies its own connection settings
 * (flue-libsql: WAL, synchronous=FULL, foreign_keys=ON, busy_timeout=5000; the stores over
 * peer 1: the benchmark's common pragmas; Flue's `sqlite()`: WAL and node:sqlite defaults).
 */
export const FLUE_ADAPTERS = {
  /** flue-libsql's own adapter: `libsql({ url })`. */
  async 'flue-libsql'(path) {
    const { libsql } = await import('../../dist/index.js');
    return libsql({ url: `file:${path}` });
  },

  /** flue-libsql's stores over peer 1, the `@libsql/client` runner: `libsql(clientRunner(url))`. */
  async 'flue-libsql stores over @libsql/client runner'(path) {
    const [{ libsql }, { clientRunner }] = await Promise.all([
      import('../../dist/index.js'),
      import('./libsql-client-runner.mjs'),
    ]);
    return libsql(clientRunner(`file:${path}`));
  },

  /** Flue's built-in adapter on node:sqlite: `sqlite(path)` from `@flue/runtime/node`. */
  async 'Flue sqlite()'(path) {
    const { sqlite } = await import('@flue/runtime/node');
    return sqlite(path);
  },
};
