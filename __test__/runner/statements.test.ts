/**
 * `execute`, `batch` and `exec`, and what a statement string may hold.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLibsqlError, describeEachKind,
  RUNNER_KINDS, openTarget, rejectionOf, type Database, type TestDatabase } from '../support/runner-helpers.js';

describeEachKind('statements', RUNNER_KINDS, (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    target = await openTarget(kind);
    db = target.db;
    await db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL DEFAULT 0)');
  });
  afterEach(() => target.dispose());

  const count = async () => (await db.query<{ n: number }>('SELECT count(*) AS n FROM items'))[0].n;

  describe('execute()', () => {
    it('reports rowsAffected and lastInsertRowid of an INSERT', async () => {
      const first = await db.execute('INSERT INTO items(name) VALUES (?)', ['a']);
      const second = await db.execute('INSERT INTO items(name) VALUES (?)', ['b']);
      expect(first).toEqual({ rowsAffected: 1, lastInsertRowid: 1 });
      expect(second).toEqual({ rowsAffected: 1, lastInsertRowid: 2 });
    });

    it('counts every row an UPDATE or DELETE touched', async () => {
      await db.exec("INSERT INTO items(name) VALUES ('a'), ('b'), ('c'), ('d')");
      expect((await db.execute('UPDATE items SET qty = qty + 1 WHERE id <= ?', [3])).rowsAffected).toBe(3);
      expect((await db.execute('DELETE FROM items WHERE qty = 0')).rowsAffected).toBe(1);
      expect((await db.execute('UPDATE items SET qty = 5 WHERE 0')).rowsAffected).toBe(0);
    });

    it('rowsAffected is 0 for a SELECT run after a write', async () => {
      const write = await db.execute("INSERT INTO items(name) VALUES ('a'), ('b')");
      expect(write.rowsAffected).toBe(2);
      const select = await db.execute('SELECT * FROM items');
      expect(select.rowsAffected).toBe(0);
    });

    it('lastInsertRowid is a bigint beyond 2^53', async () => {
      const id = 2n ** 60n + 7n;
      const result = await db.execute('INSERT INTO items(id, name) VALUES (?, ?)', [id, 'big']);
      expect(result.lastInsertRowid).toBe(id);
      const next = await db.execute("INSERT INTO items(name) VALUES ('next')");
      expect(next.lastInsertRowid).toBe(id + 1n);
    });

    it('query() of a write returns no rows but the write happens', async () => {
      expect(await db.query("INSERT INTO items(name) VALUES ('via query')")).toEqual([]);
      expect(await count()).toBe(1);
    });

    it('INSERT … RETURNING returns the new rows from query()', async () => {
      const rows = await db.query('INSERT INTO items(name, qty) VALUES (?, ?), (?, ?) RETURNING id, name, qty', ['x', 1, 'y', 2]);
      expect(rows).toEqual([
        { id: 1, name: 'x', qty: 1 },
        { id: 2, name: 'y', qty: 2 },
      ]);
    });
  });

  describe('batch()', () => {
    it('runs every statement and returns each one’s rows, rowsAffected and lastInsertRowid', async () => {
      const results = await db.batch([
        "INSERT INTO items(name) VALUES ('a')",
        { sql: 'INSERT INTO items(name, qty) VALUES (?, ?)', params: ['b', 2] },
        ['UPDATE items SET qty = qty + :n', { n: 10 }],
        'SELECT name, qty FROM items ORDER BY id',
      ]);
      expect(results).toEqual([
        { rows: [], rowsAffected: 1, lastInsertRowid: 1 },
        { rows: [], rowsAffected: 1, lastInsertRowid: 2 },
        { rows: [], rowsAffected: 2, lastInsertRowid: 2 },
        {
          rows: [
            { name: 'a', qty: 10 },
            { name: 'b', qty: 12 },
          ],
          rowsAffected: 0,
          lastInsertRowid: 2,
        },
      ]);
      expect(await count()).toBe(2);
    });

    it('is all-or-nothing: a failing 3rd statement leaves nothing of the first two', async () => {
      await db.execute("INSERT INTO items(name) VALUES ('existing')");
      const error = await expectLibsqlError(
        db.batch([
          "INSERT INTO items(name) VALUES ('first')",
          "UPDATE items SET qty = 99 WHERE name = 'existing'",
          "INSERT INTO items(name) VALUES ('existing')",
          "INSERT INTO items(name) VALUES ('never')",
        ]),
        'SQLITE_CONSTRAINT_UNIQUE',
        /batch statement 3 of 4 failed, nothing was applied/,
      );
      expect(error.rawCode).toBe(2067);
      expect(await db.query('SELECT name, qty FROM items')).toEqual([{ name: 'existing', qty: 0 }]);
    });

    it('a bad parameter in one statement refuses the whole batch before running any', async () => {
      const error = await rejectionOf(
        db.batch([
          ['INSERT INTO items(name) VALUES (?)', ['ok']],
          ['INSERT INTO items(name) VALUES (?)', [undefined]],
        ]),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/batch statement 2/);
      expect(await count()).toBe(0);
    });

    it('a syntax error in a later statement rolls back the earlier ones', async () => {
      await expectLibsqlError(db.batch(["INSERT INTO items(name) VALUES ('a')", 'INSRT INTO items VALUES (1)']), 'SQLITE_ERROR', /syntax error/);
      expect(await count()).toBe(0);
    });

    it('the database is usable after a failed batch (no transaction left open)', async () => {
      await rejectionOf(db.batch(["INSERT INTO items(name) VALUES ('a')", 'SELECT * FROM missing_table']));
      expect(await db.transaction((tx) => tx.execute("INSERT INTO items(name) VALUES ('after')"))).toMatchObject({ rowsAffected: 1 });
      expect(await db.batch(["INSERT INTO items(name) VALUES ('again')"])).toHaveLength(1);
      expect(await count()).toBe(2);
    });

    it('an empty batch resolves to []', async () => {
      expect(await db.batch([])).toEqual([]);
    });

    it('a batch that is not an array, or holds something that is not a statement → TypeError', async () => {
      expect(await rejectionOf(db.batch('SELECT 1' as unknown as []))).toBeInstanceOf(TypeError);
      const error = await rejectionOf(db.batch(['SELECT 1', 42 as unknown as string]));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/batch statement 2/);
    });
  });

  describe('exec()', () => {
    it('runs a script of several statements', async () => {
      await db.exec(`
        CREATE TABLE log(msg TEXT);
        INSERT INTO log VALUES ('one');
        -- a comment; with a semicolon
        INSERT INTO log VALUES ('two; still two');
        CREATE INDEX log_msg ON log(msg);
      `);
      expect(await db.query('SELECT msg FROM log ORDER BY rowid')).toEqual([{ msg: 'one' }, { msg: 'two; still two' }]);
      expect(await db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'log_msg'")).toEqual([{ name: 'log_msg' }]);
    });

    it('statements prepared before a schema change see the new schema after exec()', async () => {
      await db.execute("INSERT INTO items(name) VALUES ('a')");
      expect(await db.query('SELECT * FROM items')).toEqual([{ id: 1, name: 'a', qty: 0 }]);
      await db.exec("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'n'");
      expect(await db.query('SELECT * FROM items')).toEqual([{ id: 1, name: 'a', qty: 0, note: 'n' }]);
    });

    it('a failing script rejects with the SQLite error', async () => {
      await expectLibsqlError(db.exec('CREATE TABLE ok(x); SELECT * FROM nope;'), 'SQLITE_ERROR', /no such table: nope/);
    });
  });

  describe('result rows', () => {
    it('a cached statement returns the columns an ALTER TABLE through execute() added', async () => {
      await db.execute("INSERT INTO items(name) VALUES ('a')");
      expect(await db.query('SELECT * FROM items')).toEqual([{ id: 1, name: 'a', qty: 0 }]);
      await db.execute("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'n'");
      expect(await db.query('SELECT * FROM items')).toEqual([{ id: 1, name: 'a', qty: 0, note: 'n' }]);
      await db.execute('ALTER TABLE items RENAME COLUMN note TO remark');
      expect(await db.query('SELECT * FROM items')).toEqual([{ id: 1, name: 'a', qty: 0, remark: 'n' }]);
    });

    it('a result of many rows comes back complete and in order (values handed over in several parts)', async () => {
      const n = 5000;
      await db.exec(
        `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n}) INSERT INTO items(name, qty) SELECT 'item ' || i, i * 2 FROM c`,
      );
      const rows = await db.query<{ id: number; name: string; qty: number }>('SELECT * FROM items ORDER BY id');
      expect(rows).toHaveLength(n);
      rows.forEach((row, index) => expect(row).toEqual({ id: index + 1, name: `item ${index + 1}`, qty: (index + 1) * 2 }));
    });

    it('rows wider than one hand-over (1,500 columns) keep every column', async () => {
      const width = 1500;
      const columns = Array.from({ length: width }, (_, i) => `? AS c${i}`).join(', ');
      const values = Array.from({ length: width }, (_, i) => i);
      const [row] = await db.query<Record<string, number>>(`SELECT ${columns}`, values);
      expect(Object.keys(row)).toHaveLength(width);
      expect(row.c0).toBe(0);
      expect(row.c1499).toBe(1499);
      const twoRows = await db.query(`SELECT ${columns} UNION ALL SELECT ${columns}`, [...values, ...values]);
      expect(twoRows).toEqual([row, row]);
    });

    it('statements with the same columns in a different order each get their own keys', async () => {
      await db.execute("INSERT INTO items(name, qty) VALUES ('a', 3)");
      expect(Object.keys((await db.query('SELECT name, qty FROM items'))[0])).toEqual(['name', 'qty']);
      expect(Object.keys((await db.query('SELECT qty, name FROM items'))[0])).toEqual(['qty', 'name']);
    });
  });

  describe('what one statement string may hold', () => {
    it('query() with two statements → LibsqlError SQLITE_MISUSE, and neither runs', async () => {
      await expectLibsqlError(
        db.query("INSERT INTO items(name) VALUES ('a'); INSERT INTO items(name) VALUES ('b')"),
        'SQLITE_MISUSE',
        /more than one statement/,
      );
      await expectLibsqlError(db.execute('SELECT 1; SELECT 2'), 'SQLITE_MISUSE', /more than one statement/);
      expect(await count()).toBe(0);
    });

    it('a trailing semicolon, trailing comments and semicolons inside literals are one statement', async () => {
      expect(await db.query("SELECT ';' AS s; -- trailing comment")).toEqual([{ s: ';' }]);
      expect(await db.query('/* leading; */ SELECT 2 AS n /* ; */ ;')).toEqual([{ n: 2 }]);
    });

    it('a trigger body with semicolons is one statement', async () => {
      await db.execute(
        "CREATE TRIGGER items_qty AFTER INSERT ON items BEGIN UPDATE items SET qty = 1 WHERE id = new.id; UPDATE items SET name = name || '!' WHERE id = new.id; END;",
      );
      await db.execute("INSERT INTO items(name) VALUES ('t')");
      expect(await db.query('SELECT name, qty FROM items')).toEqual([{ name: 't!', qty: 1 }]);
    });

    it.each([
      ['empty', ''],
      ['whitespace', '  \n\t '],
      ['only a comment', '-- nothing here'],
      ['only semicolons', ' ; ; '],
    ])('%s SQL → a clear error from query() and execute()', async (_what, sql) => {
      await expectLibsqlError(db.query(sql), 'SQLITE_MISUSE', /SQL text is empty/);
      await expectLibsqlError(db.execute(sql), 'SQLITE_MISUSE', /SQL text is empty/);
    });

    it('SQL with a NUL character → TypeError', async () => {
      const error = await rejectionOf(db.query('SELECT 1\0; DROP TABLE items'));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/NUL/);
      expect(await count()).toBe(0);
    });
  });
});

// A second connection needs a file (a :memory: database is private to its connection).
describe('statements (file, two connections)', () => {
  it('a cached statement returns the columns another connection renamed', async () => {
    const target = await openTarget('file');
    try {
      const { db } = target;
      await db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER DEFAULT 0)');
      await db.execute("INSERT INTO items(name) VALUES ('a')");
      expect(await db.query('SELECT * FROM items WHERE id = ?', [1])).toEqual([{ id: 1, name: 'a', qty: 0 }]);
      const other = await target.reopen();
      await other.execute('ALTER TABLE items RENAME COLUMN qty TO quantity');
      expect(await db.query('SELECT * FROM items WHERE id = ?', [1])).toEqual([{ id: 1, name: 'a', quantity: 0 }]);
    } finally {
      await target.dispose();
    }
  });
});
