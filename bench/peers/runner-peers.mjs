/**
 * The runner peers, each opened on one database file with the common pragmas and
 * reduced to the same five operations. Every operation is one direct call into the peer's
 * own API (prepared statements where the API has them), so the wrappers cost the same
 * for every peer:
 *
 *   point(id)      SELECT one row by integer primary key, as an object
 *   insert(n)      INSERT one row, autocommit
 *   tx10(n)        one write transaction of 10 INSERTs
 *   range(id)      SELECT 100 rows as objects
 *
 * Async peers return promises (the benchmark awaits each, as Flue does); sync peers return
 * values. Every peer reports the settings its connection ended up with (`pragmas`). Each
 * factory takes the file and the durability ('full' or 'normal', see bench/config.mjs).
 */
import { createRequire } from 'node:module';
import { PRAGMA_READBACK, mergeRows, pragmasFor } from '../../scripts/connection-pragmas.mjs';

const require = createRequire(import.meta.url);

export const SQL = {
  point: 'SELECT id, name, payload FROM items WHERE id = ?',
  insert: 'INSERT INTO items (name, payload) VALUES (?, ?)',
  range: 'SELECT id, name, payload FROM items WHERE id >= ? ORDER BY id LIMIT 100',
};

/** The ~200-byte payload every INSERT writes (the seeded rows carry the same size). */
export const PAYLOAD = 'p'.repeat(200);

/** An async runner (flue-libsql's `Database`, or the `@libsql/client` runner) as a peer. */
export function runnerPeer(runner) {
  return {
    async: true,
    point: (id) => runner.query(SQL.point, [id]),
    insert: (n) => runner.query(SQL.insert, [`n${n}`, PAYLOAD]),
    tx10: (n) =>
      runner.transaction(async (tx) => {
        for (let i = 0; i < 10; i++) await tx.query(SQL.insert, [`t${n}.${i}`, PAYLOAD]);
      }),
    range: (id) => runner.query(SQL.range, [id]),
    pragmas: async () => mergeRows((await Promise.all(PRAGMA_READBACK.map((sql) => runner.query(sql)))).flat()),
    close: () => runner.close(),
  };
}

export const RUNNER_PEERS = {
  /** flue-libsql's runner: `open()` from the built package. */
  async 'flue-libsql'(path, durability) {
    const { open } = await import('../../dist/index.js');
    const db = await open({ url: `file:${path}`, durability });
    // The sync level is its `durability` option's.
    for (const pragma of pragmasFor(durability).filter((pragma) => !pragma.startsWith('synchronous'))) await db.query(`PRAGMA ${pragma}`);
    return runnerPeer(db);
  },

  /** flue-libsql opened with its defaults, every pragma (the sync level too) set by the application, as for better-sqlite3. */
  async 'flue-libsql (PRAGMA)'(path, durability) {
    const { open } = await import('../../dist/index.js');
    const db = await open({ url: `file:${path}` });
    for (const pragma of pragmasFor(durability)) await db.query(`PRAGMA ${pragma}`);
    return runnerPeer(db);
  },

  /** Peer 1: `@libsql/client` wrapped in the runner Flue's guide tells users to write. */
  async '@libsql/client runner'(path, durability) {
    const { clientRunner } = await import('../../scripts/libsql-client-runner.mjs');
    return runnerPeer(clientRunner(`file:${path}`, durability));
  },

  async 'better-sqlite3'(path, durability) {
    const Database = require('better-sqlite3');
    const db = new Database(path);
    for (const pragma of pragmasFor(durability)) db.pragma(pragma);
    const point = db.prepare(SQL.point);
    const insert = db.prepare(SQL.insert);
    const range = db.prepare(SQL.range);
    const tx10 = db.transaction((n) => {
      for (let i = 0; i < 10; i++) insert.run(`t${n}.${i}`, PAYLOAD);
    });
    return {
      async: false,
      point: (id) => point.get(id),
      insert: (n) => insert.run(`n${n}`, PAYLOAD),
      tx10: (n) => tx10.immediate(n), // BEGIN IMMEDIATE, as the runners' write transactions
      range: (id) => range.all(id),
      pragmas: () => mergeRows(PRAGMA_READBACK.map((sql) => db.prepare(sql).get())),
      close: () => db.close(),
    };
  },

  async 'node:sqlite'(path, durability) {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path);
    for (const pragma of pragmasFor(durability)) db.exec(`PRAGMA ${pragma}`);
    const point = db.prepare(SQL.point);
    const insert = db.prepare(SQL.insert);
    const range = db.prepare(SQL.range);
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const rollback = db.prepare('ROLLBACK');
    return {
      async: false,
      point: (id) => point.get(id),
      insert: (n) => insert.run(`n${n}`, PAYLOAD),
      tx10: (n) => {
        begin.run();
        try {
          for (let i = 0; i < 10; i++) insert.run(`t${n}.${i}`, PAYLOAD);
          commit.run();
        } catch (error) {
          if (db.isTransaction) rollback.run();
          throw error;
        }
      },
      range: (id) => range.all(id),
      pragmas: () => mergeRows(PRAGMA_READBACK.map((sql) => db.prepare(sql).get())),
      close: () => db.close(),
    };
  },
};
