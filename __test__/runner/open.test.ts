/**
 * `open(urlOrOptions)`: which targets it accepts, what it refuses (and how it says so), and
 * the connection settings a local file gets.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { makeTempDir, open, openTarget, rejectionOf, type Database, type OpenOptions, type TempDir } from '../support/runner-helpers.js';
import { startSqld, type SqldServer } from '../support/sqld-server.js';

let dir: TempDir;
const toClose: Database[] = [];

beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((db) => db.close()));
  await dir.remove();
});

async function opened(urlOrOptions: string | OpenOptions): Promise<Database> {
  const db = await open(urlOrOptions);
  toClose.push(db);
  return db;
}

/** Writes a marker through one url form, closes, and reads it back through `readUrl`. */
async function writeThenRead(writeUrl: string, readUrl: string): Promise<unknown[]> {
  const writer = await open(writeUrl);
  await writer.exec('CREATE TABLE marker(value TEXT)');
  await writer.execute('INSERT INTO marker VALUES (?)', [writeUrl]);
  await writer.close();
  const reader = await opened(readUrl);
  return (await reader.query<{ value: string }>('SELECT value FROM marker')).map((row) => row.value);
}

describe('open() targets', () => {
  it(':memory: opens a private in-memory database', async () => {
    const a = await opened(':memory:');
    const b = await opened({ url: ':memory:' });
    expect(a.kind).toBe('memory');
    await a.exec('CREATE TABLE only_in_a(x)');
    // Two :memory: databases never share data.
    expect(await b.query("SELECT name FROM sqlite_master WHERE name = 'only_in_a'")).toEqual([]);
    expect(await a.query("SELECT name FROM sqlite_master WHERE name = 'only_in_a'")).toEqual([{ name: 'only_in_a' }]);
  });

  it('file:/absolute/path.db and file:///absolute/path.db name the same file', async () => {
    const path = dir.file('abs.db');
    const values = await writeThenRead(`file:${path}`, pathToFileURL(path).href);
    expect(values).toEqual([`file:${path}`]);
    expect(existsSync(path)).toBe(true);
  });

  it('a plain absolute path opens a file', async () => {
    const path = dir.file('plain.db');
    const values = await writeThenRead(path, `file:${path}`);
    expect(values).toEqual([path]);
    const db = await opened(path);
    expect(db.kind).toBe('file');
  });

  it('file:relative/path.db and a plain relative path resolve against the working directory', async () => {
    const rel = relative(process.cwd(), dir.file('relative.db'));
    expect(rel.startsWith('/')).toBe(false);
    const values = await writeThenRead(`file:${rel}`, rel);
    expect(values).toEqual([`file:${rel}`]);
    expect(existsSync(dir.file('relative.db'))).toBe(true);
  });

  it('creates missing parent folders of a file', async () => {
    const path = dir.file('a/b/c/nested.db');
    expect(existsSync(dir.file('a'))).toBe(false);
    const db = await opened(`file:${path}`);
    await db.exec('CREATE TABLE t(x)');
    expect(existsSync(path)).toBe(true);
    const plain = dir.file('d/e/plain.db');
    await opened(plain);
    expect(existsSync(plain)).toBe(true);
  });
});

describe('open() refuses bad input at open, naming the option', () => {
  const cases: [string, (d: TempDir) => string | OpenOptions, RegExp][] = [
    ['an unknown option', (d) => ({ url: `file:${d.file('x.db')}`, authtoken: 't' }) as unknown as OpenOptions, /unknown option `authtoken`/],
    ['a url that is not a string', () => ({ url: 42 }) as unknown as OpenOptions, /option `url` must be a string, got a number/],
    ['a missing url', () => ({}) as OpenOptions, /option `url` is required/],
    ['an empty url', () => '', /option `url` is empty/],
    ['an unknown url scheme', () => 'postgres://localhost/db', /unknown url scheme 'postgres:' in option `url`/],
    ['an unknown scheme in syncUrl', (d) => ({ url: `file:${d.file('r.db')}`, syncUrl: 'ftp://h/x' }), /unknown url scheme 'ftp:' in option `syncUrl`/],
    ['a remote url without a host', () => 'libsql://', /option `url` has no host/],
    ['a remote url without //', () => 'https:example.com', /option `url` is not a valid https:\/\/ url/],
    ['a file: url with query parameters', (d) => `file:${d.file('x.db')}?mode=ro`, /query parameters/],
    ['a file: url naming a host', () => 'file://somehost/x.db', /names a host/],
    ['busyTimeout of the wrong type', (d) => ({ url: d.file('x.db'), busyTimeout: '100' }) as unknown as OpenOptions, /option `busyTimeout` must be a finite number, got a string/],
    ['a negative busyTimeout', (d) => ({ url: d.file('x.db'), busyTimeout: -1 }), /option `busyTimeout`/],
    ['an unknown durability', (d) => ({ url: d.file('x.db'), durability: 'fast' }) as unknown as OpenOptions, /option `durability` must be 'full' or 'normal', got 'fast'/],
    ['durability of the wrong type', (d) => ({ url: d.file('x.db'), durability: 1 }) as unknown as OpenOptions, /option `durability` must be a string/],
    ['readYourWrites of the wrong type', (d) => ({ url: d.file('x.db'), readYourWrites: 'yes' }) as unknown as OpenOptions, /option `readYourWrites` must be a boolean, got a string/],
    ['encryptionKey of the wrong type', (d) => ({ url: d.file('x.db'), encryptionKey: 1234 }) as unknown as OpenOptions, /option `encryptionKey` must be a string/],
    ['encryptionKey on :memory:', () => ({ url: ':memory:', encryptionKey: 'k' }), /option `encryptionKey` needs a file: url/],
    ['syncInterval without syncUrl', (d) => ({ url: d.file('x.db'), syncInterval: 5 }), /option `syncInterval` needs `syncUrl`/],
    ['syncUrl with a :memory: url', () => ({ url: ':memory:', syncUrl: 'libsql://h.example' }), /not :memory:/],
    ['authToken of the wrong type', () => ({ url: ':memory:', authToken: 5 }) as unknown as OpenOptions, /option `authToken` must be a string, got a number/],
  ];

  it.each(cases)('%s → TypeError with code INVALID_OPTION', async (_name, makeOptions, message) => {
    const error = await rejectionOf(open(makeOptions(dir)));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(message);
    // Refused before touching the disk.
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('an argument that is neither a url string nor an options object → TypeError', async () => {
    for (const bad of [42, null, undefined, true]) {
      const error = await rejectionOf(open(bad as unknown as string));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/url string or an options object/);
    }
  });

  it('an option given as undefined counts as not given', async () => {
    const db = await opened({ url: ':memory:', authToken: undefined, busyTimeout: undefined });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});

describe('connection settings', () => {
  const pragma = async (db: Database, name: string) => Object.values((await db.query(`PRAGMA ${name}`))[0])[0];

  // The busy timeout is enforced by the JS layer (SQLite's own handler would sleep on the JS
  // thread), so it is proven by behaviour in runner/concurrency.test.ts, not by a PRAGMA.
  // Durability 'full' (the default) runs SQLite at NORMAL and syncs the WAL itself before any
  // result is given back; reliability/shared-fsync.test.ts proves the syncs at the system calls.
  it('a local file uses WAL, foreign keys ON and gives synchronous=FULL (2; its commits share syncs) by default', async () => {
    const db = await opened(`file:${dir.file('settings.db')}`);
    expect(await pragma(db, 'journal_mode')).toBe('wal');
    expect(await pragma(db, 'foreign_keys')).toBe(1);
    expect(await pragma(db, 'synchronous')).toBe(2);
    // WAL is recorded in the file itself: header bytes 18 and 19 (write/read version) are 2.
    await db.exec('CREATE TABLE t(x)');
    expect(existsSync(dir.file('settings.db-wal'))).toBe(true);
    await db.close();
    const header = readFileSync(dir.file('settings.db')).subarray(0, 20);
    expect(header.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect([header[18], header[19]]).toEqual([2, 2]);
  });

  it("durability: 'normal' sets synchronous=NORMAL (1)", async () => {
    const normal = await opened({ url: `file:${dir.file('normal.db')}`, durability: 'normal' });
    expect(await pragma(normal, 'synchronous')).toBe(1);
  });

  it.each(['memory', 'file'] as const)('foreign keys are enforced (%s)', async (kind) => {
    const target = await openTarget(kind);
    try {
      const { db } = target;
      expect(await pragma(db, 'foreign_keys')).toBe(1);
      await db.exec('CREATE TABLE parent(id INTEGER PRIMARY KEY); CREATE TABLE child(parent_id INTEGER REFERENCES parent(id))');
      const error = await rejectionOf(db.execute('INSERT INTO child VALUES (99)'));
      expect(error.code).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
    } finally {
      await target.dispose();
    }
  });
});

describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`server url forms on one sqld${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  let server: SqldServer;
  beforeAll(async () => {
    server = await startSqld();
  });
  afterAll(() => server?.dispose());

  // Hrana over HTTP serves every form; ws:// and wss:// are accepted as @libsql/client accepts them.
  it.each([
    ['http://', (port: number) => `http://127.0.0.1:${port}`],
    ['ws://', (port: number) => `ws://127.0.0.1:${port}`],
    ['libsql:// with tls=0', (port: number) => `libsql://127.0.0.1:${port}?tls=0`],
    ['http:// with a trailing slash', (port: number) => `http://127.0.0.1:${port}/`],
  ])('%s reaches the server and sees what the others wrote', async (form, url) => {
    const db = await opened(url(server.port));
    expect(db.kind).toBe('remote');
    await db.execute('CREATE TABLE IF NOT EXISTS forms(form TEXT)');
    await db.execute('INSERT INTO forms VALUES (?)', [form]);
    const rows = await db.query<{ form: string }>('SELECT form FROM forms');
    expect(rows.map((row) => row.form)).toContain(form);
  });

  it('libsql:// without tls=0 speaks TLS, so a plain-HTTP server fails the handshake: TLS_FAILED, and the error says so', async () => {
    const db = await opened({ url: `libsql://127.0.0.1:${server.port}`, requestTimeout: 5000 });
    const error = await rejectionOf(db.query('SELECT 1'));
    expect((error as { code?: string }).code).toBe('TLS_FAILED');
    expect(error.message).toContain(`https://127.0.0.1:${server.port}`);
    expect(error.message).toContain('did not answer in TLS');
  });
});
