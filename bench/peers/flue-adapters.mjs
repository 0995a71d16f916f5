/**
 * The three Flue persistence adapters, each created on a fresh database file. Each factory
 * does its own imports, so the time to import + open + migrate is measured from nothing.
 * They are used as users get them: each adapter applies its own connection settings
 * (flue-libsql: WAL, foreign_keys=ON, busy_timeout=5000 and the durability asked for; the
 * stores over peer 1: the benchmark's common pragmas at that durability; Flue's `sqlite()`:
 * WAL and node:sqlite's defaults, whatever the durability — it has no setting for it).
 */
export const FLUE_ADAPTERS = {
  /** flue-libsql's own adapter: `libsql({ url })`. */
  async 'flue-libsql'(path, durability) {
    const { libsql } = await import('../../dist/index.js');
    return libsql({ url: `file:${path}`, durability });
  },

  /** flue-libsql's stores over peer 1, the `@libsql/client` runner: `libsql(clientRunner(url))`. */
  async 'flue-libsql stores over @libsql/client runner'(path, durability) {
    const [{ libsql }, { clientRunner }] = await Promise.all([
      import('../../dist/index.js'),
      import('../../scripts/libsql-client-runner.mjs'),
    ]);
    return libsql(clientRunner(`file:${path}`, durability));
  },

  /** Flue's built-in adapter on node:sqlite: `sqlite(path)` from `@flue/runtime/node`. */
  async 'Flue sqlite()'(path) {
    const { sqlite } = await import('@flue/runtime/node');
    return sqlite(path);
  },
};
