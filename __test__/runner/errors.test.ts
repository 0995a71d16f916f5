/**
 * What the runner's errors carry (`LibsqlError`: `code`, `rawCode`, SQLite's message), and
 * files that cannot be opened: garbage, empty, a directory, and encrypted files.
 */
import { mkdirSync, statSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  expectLibsqlError,
  LibsqlError,
  describeEachKind,
  isRemoteKind,
  RUNNER_KINDS,
  makeTempDir,
  open,
  openTarget,
  rejectionOf,
  type Database,
  type TempDir,
  type TestDatabase,
} from '../support/runner-helpers.js';

describe('LibsqlError', () => {
  it('is an Error subclass with name, code and rawCode', () => {
    const error = new LibsqlError('boom', 'SQLITE_BUSY', 5);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(LibsqlError);
    expect(error.name).toBe('LibsqlError');
    expect(error.message).toBe('boom');
    expect(error.code).toBe('SQLITE_BUSY');
    expect(error.rawCode).toBe(5);
    expect(error.stack).toMatch(/LibsqlError: boom/);
  });
});

describeEachKind('SQLite errors', RUNNER_KINDS, (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    target = await openTarget(kind);
    db = target.db;
    await db.exec(`
      CREATE TABLE parent(id INTEGER PRIMARY KEY);
      CREATE TABLE child(
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES parent(id),
        email TEXT UNIQUE,
        name TEXT NOT NULL DEFAULT 'x',
        age INTEGER CHECK (age >= 0)
      );
      CREATE TABLE keyed(k TEXT PRIMARY KEY);
      INSERT INTO parent VALUES (1);
      INSERT INTO child(id, parent_id, email) VALUES (1, 1, 'taken@example.com');
      INSERT INTO keyed VALUES ('k1');
    `);
  });
  afterAll(() => target.dispose());

  it.each([
    {
      what: 'a duplicate INTEGER PRIMARY KEY',
      sql: 'INSERT INTO child(id) VALUES (1)',
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      rawCode: 1555,
      message: 'UNIQUE constraint failed: child.id',
    },
    {
      what: 'a duplicate TEXT PRIMARY KEY',
      sql: "INSERT INTO keyed VALUES ('k1')",
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      rawCode: 1555,
      message: 'UNIQUE constraint failed: keyed.k',
    },
    {
      what: 'a duplicate UNIQUE value',
      sql: "INSERT INTO child(email) VALUES ('taken@example.com')",
      code: 'SQLITE_CONSTRAINT_UNIQUE',
      rawCode: 2067,
      message: 'UNIQUE constraint failed: child.email',
    },
    {
      what: 'a missing foreign key target',
      sql: 'INSERT INTO child(parent_id) VALUES (42)',
      code: 'SQLITE_CONSTRAINT_FOREIGNKEY',
      rawCode: 787,
      message: 'FOREIGN KEY constraint failed',
    },
    {
      what: 'NULL in a NOT NULL column',
      sql: 'INSERT INTO child(name) VALUES (NULL)',
      code: 'SQLITE_CONSTRAINT_NOTNULL',
      rawCode: 1299,
      message: 'NOT NULL constraint failed: child.name',
    },
    {
      what: 'a failed CHECK',
      sql: 'INSERT INTO child(age) VALUES (-1)',
      code: 'SQLITE_CONSTRAINT_CHECK',
      rawCode: 275,
      message: 'CHECK constraint failed',
    },
    {
      what: 'a syntax error',
      sql: 'SELEC 1',
      code: 'SQLITE_ERROR',
      rawCode: 1,
      // A libSQL server parses statements before SQLite sees them, and words the error itself.
      message: isRemoteKind(kind) ? 'syntax error around L1:6: `SELEC`' : 'near "SELEC": syntax error',
    },
    { what: 'an unknown table', sql: 'SELECT * FROM nope', code: 'SQLITE_ERROR', rawCode: 1, message: 'no such table: nope' },
    { what: 'an unknown column', sql: 'SELECT nope FROM parent', code: 'SQLITE_ERROR', rawCode: 1, message: 'no such column: nope' },
    { what: 'an unknown function', sql: 'SELECT nope(1)', code: 'SQLITE_ERROR', rawCode: 1, message: 'no such function: nope' },
  ])('$what → $code ($rawCode) with SQLite’s message', async ({ sql, code, rawCode, message }) => {
    for (const run of [() => db.execute(sql), () => db.query(sql)]) {
      const error = await expectLibsqlError(run(), code);
      expect(error.rawCode).toBe(rawCode);
      expect(error.message).toContain(message);
      expect(error.stack).toBeTypeOf('string');
    }
  });

  it('a constraint error inside a transaction rejects the transaction with that error', async () => {
    const error = await expectLibsqlError(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO parent VALUES (2)');
        await tx.execute('INSERT INTO parent VALUES (2)');
      }),
      'SQLITE_CONSTRAINT_PRIMARYKEY',
    );
    expect(error.rawCode).toBe(1555);
    expect(await db.query('SELECT id FROM parent ORDER BY id')).toEqual([{ id: 1 }]);
  });
});

describe('files that are not usable databases', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => dir.remove());

  /** After a refused open the process is up and the runner still works. */
  async function stillWorks(): Promise<void> {
    const db = await open(':memory:');
    expect(await db.query('SELECT 40 + 2 AS n')).toEqual([{ n: 42 }]);
    await db.close();
  }

  it('a garbage file → LibsqlError SQLITE_NOTADB at open', async () => {
    const path = dir.file('garbage.db');
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    const error = await expectLibsqlError(open(path), 'SQLITE_NOTADB', /not a database/);
    expect(error.rawCode).toBe(26);
    // Nothing was written over the file.
    expect(readFileSync(path).equals(Buffer.alloc(8192, 0x5a))).toBe(true);
    await stillWorks();
  });

  it('a short text file → LibsqlError SQLITE_NOTADB at open', async () => {
    const path = dir.file('notes.db');
    writeFileSync(path, 'these are my notes, not a database\n');
    await expectLibsqlError(open(`file:${path}`), 'SQLITE_NOTADB');
    await stillWorks();
  });

  // Not an error: to SQLite a zero-byte file is a new, empty database (it writes the header on
  // the first commit). Refusing it would make a process that crashed right after creating
  // its file unable ever to open it again.
  it('a zero-length file opens as a new, empty database and works', async () => {
    const path = dir.file('empty.db');
    writeFileSync(path, '');
    const db = await open(path);
    try {
      expect(await db.query(`SELECT count(*) AS n FROM sqlite_master`)).toEqual([{ n: 0 }]);
      await db.exec('CREATE TABLE t (x)');
      await db.execute('INSERT INTO t VALUES (?)', [1]);
      expect(await db.query('SELECT x FROM t')).toEqual([{ x: 1 }]);
    } finally {
      await db.close();
    }
    expect(statSync(path).size).toBeGreaterThan(0);
    await stillWorks();
  });

  it('a directory → LibsqlError SQLITE_CANTOPEN at open', async () => {
    const path = dir.file('a-directory.db');
    mkdirSync(path);
    const error = await expectLibsqlError(open(path), 'SQLITE_CANTOPEN');
    expect(error.message).toContain(path);
    await stillWorks();
  });

  it('a path below a regular file → LibsqlError SQLITE_CANTOPEN at open', async () => {
    const blocker = dir.file('blocker');
    writeFileSync(blocker, 'x');
    await expectLibsqlError(open(`${blocker}/sub/db.sqlite`), 'SQLITE_CANTOPEN');
    await stillWorks();
  });
});

describe('encrypted files', () => {
  let dir: TempDir;
  let path: string;
  const key = 'correct horse battery staple';
  const secret = 'PLAINTEXT-MARKER-4b9f1c';

  beforeAll(async () => {
    dir = await makeTempDir();
    path = dir.file('encrypted.db');
    const db = await open({ url: `file:${path}`, encryptionKey: key });
    await db.exec('CREATE TABLE secrets(value TEXT)');
    await db.execute('INSERT INTO secrets VALUES (?)', [secret]);
    await db.close();
  });
  afterAll(() => dir.remove());

  it('the right key reads the data back', async () => {
    const db = await open({ url: `file:${path}`, encryptionKey: key });
    expect(await db.query('SELECT value FROM secrets')).toEqual([{ value: secret }]);
    await db.close();
  });

  it('a wrong key → LibsqlError at open, not garbage rows', async () => {
    const error = await expectLibsqlError(open({ url: `file:${path}`, encryptionKey: 'wrong key' }), 'SQLITE_NOTADB');
    expect(error.rawCode).toBe(26);
  });

  it('no key → LibsqlError at open', async () => {
    await expectLibsqlError(open(`file:${path}`), 'SQLITE_NOTADB');
  });

  it('the files on disk hold neither the data nor the SQLite header in the clear', () => {
    const files = readdirSync(dir.path).filter((name) => name.startsWith('encrypted.db'));
    expect(files).toContain('encrypted.db');
    for (const name of files) {
      const bytes = readFileSync(dir.file(name));
      expect(bytes.includes(Buffer.from(secret)), `${name} holds the plaintext`).toBe(false);
      expect(bytes.includes(Buffer.from('CREATE TABLE secrets')), `${name} holds the schema`).toBe(false);
    }
    expect(readFileSync(path).subarray(0, 16).toString('latin1')).not.toBe('SQLite format 3\0');
  });

  it('a plain (unencrypted) file opened with a key → LibsqlError at open', async () => {
    const plain = dir.file('plain.db');
    const db = await open(plain);
    await db.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1)');
    await db.close();
    await expectLibsqlError(open({ url: plain, encryptionKey: key }), 'SQLITE_NOTADB');
  });
});
