/**
 * The bad-input corpus: every kind of wrong value, call, SQL, option, file or environment a
 * caller can hand the runner, one test each.
 *
 * For EVERY case the harness (see `it.for` at the bottom) checks, around the case's own
 * assertions:
 * - a known row written just before the case is still there afterwards;
 * - the database (the `data` table and the whole schema) is byte-for-byte what it was;
 * - the database is usable: one more write transaction commits afterwards;
 * - the process is still up (cases that need their own process check their child's report).
 * and every refusal is checked for its class (`LibsqlError`, or `TypeError` / `RangeError`
 * for arguments), a message that names the problem, and the absence of the test's fake auth
 * token in its message, stack and `util.inspect` form.
 *
 * Cases that must WORK are here too (a 100 MB blob, text with NUL characters, a zero-byte
 * file): refusing them would be the bug. No case contacts anything but loopback addresses.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libsql, LibsqlError, loadMigrations, open, type Database } from '../../dist/index.js';
import { makeTempDir, rejectionOf, type TempDir } from '../support/runner-helpers.js';

const CHILD = fileURLToPath(new URL('../support/children/reliability-bad-input-child.mjs', import.meta.url));
/** A recognizable fake credential: it must never appear in any error. */
const SECRET = 'SECRET-TOKEN-123';
const JWT_SECRET = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.SECRETSIGNATURE';
/** Nothing listens on port 1 of the loopback interface: connections are refused at once. */
const CLOSED_LOOPBACK = 'http://127.0.0.1:1';

type ErrorClass = typeof LibsqlError | TypeErrorConstructor | RangeErrorConstructor | ErrorConstructor;
type Thrown = Error & { code?: string; rawCode?: number };

interface Ctx {
  /** The shared database the harness checks around every case. */
  db: Database;
  dir: TempDir;
  /** A fresh path in the temp directory. */
  fresh(name: string): string;
}

interface Case {
  name: string;
  run(ctx: Ctx): Promise<unknown> | unknown;
  /** Why the case cannot run here, if it cannot. */
  skip?(): string | undefined;
}

function assertNoSecret(error: unknown): void {
  const e = error as Error;
  for (const text of [String(e?.message), String(e?.stack), inspect(error)]) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('SECRETSIGNATURE');
  }
}

/**
 * Calls `call`, which must return a promise that rejects (a synchronous throw is a contract
 * violation: every runner method returns a promise); checks class, message, code, no secret.
 */
async function refuses(call: () => unknown, errorClass: ErrorClass, message: RegExp, code?: string): Promise<Thrown> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    throw new Error(`threw synchronously instead of returning a rejected promise: ${String(error)}`);
  }
  expect(result).toBeInstanceOf(Promise);
  const error = await rejectionOf(result as Promise<unknown>);
  expect(error, `${error.constructor.name}: ${error.message}`).toBeInstanceOf(errorClass);
  expect(error.message).toMatch(message);
  if (code !== undefined) expect(error.code).toBe(code);
  assertNoSecret(error);
  return error;
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The `data` table and the whole schema, as text: equal fingerprints mean nothing changed. */
async function fingerprint(db: Database): Promise<string> {
  const rows = await db.query('SELECT id, quote(v) AS v FROM data ORDER BY id');
  const schema = await db.query('SELECT type, name, sql FROM sqlite_master ORDER BY type, name');
  return JSON.stringify({ rows, schema }, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** Runs a child script and returns its JSON step lines (the last must be `{ alive: true }`). */
async function childSteps(command: string, args: string[]): Promise<{ steps: Record<string, { ok: boolean; value?: unknown; name?: string; code?: string; message?: string }>; alive: boolean; stderr: string }> {
  const child = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  const steps: Record<string, { ok: boolean; value?: unknown; name?: string; code?: string; message?: string }> = {};
  let alive = false;
  for (const line of child.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as { step?: string; alive?: boolean; ok: boolean };
    if (parsed.alive) alive = true;
    else if (parsed.step) steps[parsed.step] = parsed;
  }
  expect(child.status, `child exited with ${child.status} / ${child.signal}\n${child.stderr}`).toBe(0);
  return { steps, alive, stderr: child.stderr };
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// ---- the cases -------------------------------------------------------------------------

const TYPED_ARRAYS = [Int8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];

const valueCases: Case[] = [
  {
    name: 'param: undefined → TypeError naming parameter 1',
    run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [undefined]), TypeError, /parameter 1 \(params\[0\]\) is undefined.*use null/),
  },
  {
    name: 'param: a hole in a sparse array → TypeError naming parameter 2',
    // eslint-disable-next-line no-sparse-arrays
    run: ({ db }) => refuses(() => db.query('SELECT ?, ?, ?', [1, , 3]), TypeError, /parameter 2 \(params\[1\]\) is undefined.*sparse/),
  },
  {
    name: 'param: undefined in named params → TypeError naming `a`',
    run: ({ db }) => refuses(() => db.query('SELECT :a AS v', { a: undefined }), TypeError, /parameter `a` is undefined/),
  },
  { name: 'param: a plain object → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [{ a: 1 }]), TypeError, /parameter 1 \(params\[0\]\) is an object.*JSON\.stringify/) },
  { name: 'param: a nested array → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [[1, 2]]), TypeError, /parameter 1 \(params\[0\]\) is an array/) },
  { name: 'param: a Map → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [new Map()]), TypeError, /parameter 1 \(params\[0\]\) is an object/) },
  { name: 'param: a boxed String → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [new String('x')]), TypeError, /parameter 1 \(params\[0\]\) is an object/) },
  { name: 'param: a symbol → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [Symbol('s')]), TypeError, /parameter 1 \(params\[0\]\) is a symbol/) },
  { name: 'param: a function → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [() => 1]), TypeError, /parameter 1 \(params\[0\]\) is a function/) },
  { name: 'param: a Date → TypeError suggesting getTime/toISOString', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [new Date()]), TypeError, /is a Date.*(getTime|toISOString)/) },
  { name: 'param: NaN → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [NaN]), TypeError, /parameter 1 \(params\[0\]\) is NaN/) },
  { name: 'param: Infinity → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [Infinity]), TypeError, /parameter 1 \(params\[0\]\) is Infinity/) },
  { name: 'param: -Infinity → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [-Infinity]), TypeError, /parameter 1 \(params\[0\]\) is -Infinity/) },
  {
    name: 'param: -0 works, stored as the integer 0',
    run: async ({ db }) => {
      const [row] = await db.query('SELECT ? AS v, typeof(?) AS t', [-0, -0]);
      expect(row).toEqual({ v: 0, t: 'integer' });
      expect(Object.is(row.v, -0)).toBe(false);
    },
  },
  { name: 'param: bigint 2^64 → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [2n ** 64n]), RangeError, /parameter 1 \(params\[0\]\) is a bigint outside .*64-bit/) },
  { name: 'param: bigint -(2^63) - 1 → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [-(2n ** 63n) - 1n]), RangeError, /64-bit/) },
  { name: 'param: bigint 2^200 → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [2n ** 200n]), RangeError, /64-bit/) },
  {
    name: 'param: bigint at both 64-bit limits works, never rounded',
    run: async ({ db }) => {
      const [row] = await db.query('SELECT ? AS hi, ? AS lo', [2n ** 63n - 1n, -(2n ** 63n)]);
      expect(row).toEqual({ hi: 2n ** 63n - 1n, lo: -(2n ** 63n) });
    },
  },
  ...TYPED_ARRAYS.map((T): Case => ({
    name: `param: ${T.name} → TypeError naming it`,
    run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [new T(4)]), TypeError, new RegExp(`parameter 1 \\(params\\[0\\]\\) is a ${T.name}; pass a Uint8Array`)),
  })),
  {
    name: 'param: Uint8ClampedArray is stored as a BLOB of its bytes',
    run: async ({ db }) => {
      const [row] = await db.query('SELECT ? AS v, typeof(?) AS t', [new Uint8ClampedArray([1, 2, 255]), new Uint8ClampedArray([1])]);
      expect(row.t).toBe('blob');
      expect(Array.from(row.v as Uint8Array)).toEqual([1, 2, 255]);
    },
  },
  { name: 'param: DataView → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [new DataView(new ArrayBuffer(4))]), TypeError, /is a DataView/) },
  {
    name: 'param: a detached ArrayBuffer → TypeError',
    run: ({ db }) => {
      const buffer = new ArrayBuffer(8);
      (buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
      return refuses(() => db.query('SELECT ? AS v', [buffer]), TypeError, /parameter 1 \(params\[0\]\) is backed by a detached ArrayBuffer/);
    },
  },
  {
    name: 'param: a Uint8Array over a detached buffer → TypeError',
    run: ({ db }) => {
      const view = new Uint8Array(8);
      structuredClone(view.buffer, { transfer: [view.buffer] });
      return refuses(() => db.query('SELECT ? AS v', [view]), TypeError, /detached ArrayBuffer/);
    },
  },
  { name: 'param: a SharedArrayBuffer → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', [new SharedArrayBuffer(4)]), TypeError, /parameter 1 \(params\[0\]\) is an object/) },
  {
    name: 'param: a Uint8Array view with an offset stores only the viewed bytes',
    run: async ({ db }) => {
      const [row] = await db.query('SELECT hex(?) AS h', [new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3)]);
      expect(row.h).toBe('0203');
    },
  },
  {
    name: 'param: Buffer, ArrayBuffer and an empty Uint8Array round-trip as BLOBs',
    run: async ({ db }) => {
      const [row] = await db.query('SELECT ? AS b, ? AS a, ? AS e, typeof(?) AS t', [Buffer.from('buf'), new Uint8Array([9, 8]).buffer, new Uint8Array(0), new Uint8Array(0)]);
      expect(Buffer.from(row.b as Uint8Array).toString()).toBe('buf');
      expect(Array.from(row.a as Uint8Array)).toEqual([9, 8]);
      expect(row.e).toBeInstanceOf(Uint8Array);
      expect((row.e as Uint8Array).length).toBe(0);
      expect(row.t).toBe('blob');
    },
  },
  {
    name: 'param: a getter that throws → an error naming the parameter or carrying the getter’s error',
    run: ({ db }) => {
      const params = {
        get v(): never {
          throw new Error('boom from the getter');
        },
      };
      return refuses(() => db.query('SELECT :v AS v', params), Error, /boom from the getter|parameter `v`/);
    },
  },
];

const textCases: Case[] = [
  { name: 'text: a lone high surrogate param → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', ['a\uD800b']), TypeError, /parameter 1 \(params\[0\]\) is a string with a lone surrogate/) },
  { name: 'text: a lone low surrogate named param → TypeError', run: ({ db }) => refuses(() => db.query('SELECT :s AS v', { s: '\uDC00' }), TypeError, /parameter `s` is a string with a lone surrogate/) },
  {
    name: 'text: a lone surrogate in the SQL text → TypeError (not silently stored as U+FFFD)',
    run: ({ db }) => refuses(() => db.execute(`INSERT INTO data(v) VALUES ('lone \uD800 surrogate')`), TypeError, /lone surrogate/),
  },
  {
    name: 'text: NUL characters round-trip through a parameter',
    run: async ({ db }) => {
      const [row] = await db.query('SELECT ? AS v, hex(?) AS h', ['a\0b\0', 'a\0b\0']);
      expect(row.h).toBe('61006200');
      expect(row.v).toBe('a\0b\0');
    },
  },
  {
    name: 'text: NUL characters round-trip through a table',
    run: async ({ db }) => {
      const { lastInsertRowid } = await db.execute('INSERT INTO scratch(v) VALUES (?)', ['before\0after']);
      try {
        const [row] = await db.query('SELECT v, length(CAST(v AS BLOB)) AS bytes FROM scratch WHERE id = ?', [lastInsertRowid]);
        expect(row.bytes).toBe(12);
        expect(row.v).toBe('before\0after');
      } finally {
        await db.execute('DELETE FROM scratch WHERE id = ?', [lastInsertRowid]);
      }
    },
  },
  { name: 'text: a NUL character in the SQL text → TypeError', run: ({ db }) => refuses(() => db.query('SELECT 1\0'), TypeError, /SQL text contains a NUL character/) },
  {
    name: 'text: a TEXT value that is not valid UTF-8 is read without an internal error (no panic)',
    run: async ({ db }) => {
      // Any other SQLite client can store such a value; reading it must not be an INTERNAL error.
      const outcome = await db.query(`SELECT CAST(x'41ff42' AS TEXT) AS v`).then(
        (rows) => ({ ok: true as const, rows }),
        (error: Thrown) => ({ ok: false as const, error }),
      );
      if (outcome.ok) expect(typeof outcome.rows[0].v).toBe('string');
      else {
        expect(outcome.error).toBeInstanceOf(LibsqlError);
        expect(outcome.error.code).not.toBe('INTERNAL');
        expect(outcome.error.message).toMatch(/UTF-8/);
      }
    },
  },
  {
    name: 'text: after a failed read of invalid UTF-8, the same query again gives the whole result, not its tail',
    run: async ({ db }) => {
      await db.exec(`CREATE TABLE utf8_case(id INTEGER PRIMARY KEY, v);
        INSERT INTO utf8_case(v) VALUES ('first'), ('second'), (CAST(x'ff' AS TEXT)), ('fourth'), ('fifth');`);
      try {
        const sql = 'SELECT id FROM utf8_case WHERE id > 0 ORDER BY id';
        expect(await db.query(sql)).toHaveLength(5); // ids alone: no invalid text involved
        const withText = 'SELECT id, v FROM utf8_case ORDER BY id';
        const first = await db.query(withText).then((rows) => rows.map((r) => r.id), (e: Thrown) => e.code);
        const second = await db.query(withText).then((rows) => rows.map((r) => r.id), (e: Thrown) => e.code);
        // Whatever the first outcome was, asking again must give the same answer, never a silently shorter list.
        expect(second).toEqual(first);
      } finally {
        await db.exec('DROP TABLE utf8_case');
      }
    },
  },
];

const countCases: Case[] = [
  { name: 'params: too few positional → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ?, ?', [1]), RangeError, /the statement has 2 parameters but 1 were given/) },
  { name: 'params: too many positional → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ?', [1, 2, 3]), RangeError, /the statement has 1 parameter but 3 were given/) },
  { name: 'params: placeholders but no params → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v'), RangeError, /has 1 parameter but no params were given/) },
  { name: 'params: null for a statement with placeholders → RangeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', null as never), RangeError, /no params were given/) },
  { name: 'params: values for a statement without placeholders → RangeError', run: ({ db }) => refuses(() => db.query('SELECT 1', [1]), RangeError, /has 0 parameters but 1 were given/) },
  { name: 'params: a missing named parameter → RangeError naming it', run: ({ db }) => refuses(() => db.query('SELECT :a AS a, :b AS b', { a: 1 }), RangeError, /missing named parameter `b`/) },
  { name: 'params: an unknown named parameter → RangeError naming it', run: ({ db }) => refuses(() => db.query('SELECT :a AS a', { a: 1, zzz: 2 }), RangeError, /unknown named parameter `zzz`/) },
  { name: 'params: an object for ? placeholders → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', { a: 1 }), TypeError, /positional \? placeholder/) },
  { name: 'params: a string instead of an array → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', 'x' as never), TypeError, /params must be an array .* or a plain object/) },
  { name: 'params: a number instead of an array → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', 5 as never), TypeError, /params must be an array/) },
  { name: 'params: a Uint8Array instead of an array → TypeError', run: ({ db }) => refuses(() => db.query('SELECT ? AS v', new Uint8Array(1) as never), TypeError, /params must be an array/) },
];

const sqlCases: Case[] = [
  { name: 'sql: empty → LibsqlError SQLITE_MISUSE', run: ({ db }) => refuses(() => db.query(''), LibsqlError, /SQL text is empty/, 'SQLITE_MISUSE') },
  { name: 'sql: only whitespace → SQLITE_MISUSE', run: ({ db }) => refuses(() => db.query(' \n\t '), LibsqlError, /SQL text is empty/, 'SQLITE_MISUSE') },
  { name: 'sql: only a comment → SQLITE_MISUSE', run: ({ db }) => refuses(() => db.execute('-- nothing here'), LibsqlError, /SQL text is empty/, 'SQLITE_MISUSE') },
  { name: 'sql: two statements in query() → SQLITE_MISUSE, neither runs', run: ({ db }) => refuses(() => db.query(`INSERT INTO data(v) VALUES ('two-1'); SELECT 2`), LibsqlError, /more than one statement/, 'SQLITE_MISUSE') },
  { name: 'sql: two statements in execute() → SQLITE_MISUSE, neither runs', run: ({ db }) => refuses(() => db.execute(`INSERT INTO data(v) VALUES ('two-2'); INSERT INTO data(v) VALUES ('two-3')`), LibsqlError, /more than one statement/, 'SQLITE_MISUSE') },
  { name: 'sql: a syntax error → SQLITE_ERROR naming the token', run: ({ db }) => refuses(() => db.query('SELEC 1'), LibsqlError, /near "SELEC": syntax error/, 'SQLITE_ERROR') },
  { name: 'sql: an unknown table → SQLITE_ERROR', run: ({ db }) => refuses(() => db.query('SELECT * FROM no_such_table'), LibsqlError, /no such table: no_such_table/, 'SQLITE_ERROR') },
  { name: 'sql: not a string → TypeError', run: ({ db }) => refuses(() => db.query(42 as never), TypeError, /sql must be a string/) },
  { name: 'sql: undefined → TypeError', run: ({ db }) => refuses(() => db.execute(undefined as never), TypeError, /sql must be a string/) },
  { name: 'sql: a constraint violation → SQLITE_CONSTRAINT_PRIMARYKEY', run: ({ db }) => refuses(() => db.execute('INSERT INTO data(id, v) VALUES (1, 1)'), LibsqlError, /UNIQUE constraint failed: data\.id/, 'SQLITE_CONSTRAINT_PRIMARYKEY') },
  { name: 'sql: a value beyond SQLite’s length limit → SQLITE_TOOBIG', run: ({ db }) => refuses(() => db.query('SELECT zeroblob(2000000000) AS v'), LibsqlError, /too big/, 'SQLITE_TOOBIG') },
  { name: 'exec: a script whose first statement fails → nothing applied', run: ({ db }) => refuses(() => db.exec(`SELEC 1; INSERT INTO data(v) VALUES ('never')`), LibsqlError, /syntax error/, 'SQLITE_ERROR') },
  { name: 'batch: the 3rd of 3 statements fails → nothing applied, the statement named', run: ({ db }) => refuses(() => db.batch([`INSERT INTO data(v) VALUES ('b1')`, `INSERT INTO data(v) VALUES ('b2')`, 'INSERT INTO data(id) VALUES (1)']), LibsqlError, /batch statement 3 of 3 failed, nothing was applied/, 'SQLITE_CONSTRAINT_PRIMARYKEY') },
  { name: 'batch: wrong parameter count in statement 2 → RangeError, nothing applied', run: ({ db }) => refuses(() => db.batch([`INSERT INTO data(v) VALUES ('b3')`, ['INSERT INTO data(v) VALUES (?)', []]]), RangeError, /batch statement 2 of 2 failed, nothing was applied: the statement has 1 parameter but 0/) },
  { name: 'batch: not an array → TypeError', run: ({ db }) => refuses(() => db.batch('SELECT 1' as never), TypeError, /batch\(\) takes an array/) },
  { name: 'batch: an element that is not a statement → TypeError naming it', run: ({ db }) => refuses(() => db.batch(['SELECT 1', 5 as never]), TypeError, /batch statement 2 is not a string/) },
  {
    name: 'blob: 100 MB round-trips intact (then is deleted)',
    run: async ({ db }) => {
      const bytes = randomFillSync(Buffer.allocUnsafe(100 * 1024 * 1024));
      const { lastInsertRowid } = await db.execute('INSERT INTO scratch(v) VALUES (?)', [bytes]);
      try {
        const [row] = await db.query('SELECT v, length(v) AS n FROM scratch WHERE id = ?', [lastInsertRowid]);
        expect(row.n).toBe(bytes.length);
        expect(Buffer.from(row.v as Uint8Array).equals(bytes)).toBe(true);
      } finally {
        await db.execute('DELETE FROM scratch WHERE id = ?', [lastInsertRowid]);
      }
      expect(await db.query('SELECT count(*) AS n FROM scratch')).toEqual([{ n: 0 }]);
    },
  },
];

const lifecycleCases: Case[] = [
  {
    name: 'closed: every call after close() → CLIENT_CLOSED',
    run: async ({ db, dir }) => {
      const other = await open(dir.file('main.db'));
      await other.close();
      expect(other.closed).toBe(true);
      await refuses(() => other.query('SELECT 1'), LibsqlError, /closed/, 'CLIENT_CLOSED');
      await refuses(() => other.execute('SELECT 1'), LibsqlError, /closed/, 'CLIENT_CLOSED');
      await refuses(() => other.batch(['SELECT 1']), LibsqlError, /closed/, 'CLIENT_CLOSED');
      await refuses(() => other.exec('SELECT 1'), LibsqlError, /closed/, 'CLIENT_CLOSED');
      await refuses(() => other.transaction(async () => 1), LibsqlError, /closed/, 'CLIENT_CLOSED');
      await refuses(() => other.migrate([]), LibsqlError, /closed/, 'CLIENT_CLOSED');
      await refuses(() => other.sync(), LibsqlError, /closed/, 'CLIENT_CLOSED');
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    },
  },
  {
    name: 'closed: close() twice resolves both times',
    run: async ({ dir }) => {
      const other = await open(dir.file('main.db'));
      const [a, b] = await Promise.all([other.close(), other.close()]);
      expect([a, b]).toEqual([undefined, undefined]);
      await expect(other.close()).resolves.toBeUndefined();
    },
  },
  {
    name: 'closed: close() during a transaction waits for it, then refuses',
    run: async ({ dir }) => {
      const other = await open(dir.file('main.db'));
      const tx = other.transaction(async (t) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return (await t.query<{ n: number }>('SELECT count(*) AS n FROM data'))[0].n;
      });
      const closing = other.close();
      expect(typeof (await tx)).toBe('number');
      await closing;
      await refuses(() => other.query('SELECT 1'), LibsqlError, /closed/, 'CLIENT_CLOSED');
    },
  },
  {
    name: 'transaction: a callback that throws synchronously → rejects with it, rolled back',
    run: async ({ db }) => {
      const error = await refuses(() => db.transaction((tx) => {
        void tx.execute(`INSERT INTO data(v) VALUES ('sync-throw')`);
        throw new Error('thrown synchronously by the callback');
      }), Error, /thrown synchronously by the callback/);
      expect(error).not.toBeInstanceOf(LibsqlError);
    },
  },
  {
    name: 'transaction: a callback that rejects → rejects with it, rolled back',
    run: ({ db }) => refuses(() => db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO data(v) VALUES ('rejected')`);
      throw new RangeError('rejected by the callback');
    }), RangeError, /rejected by the callback/),
  },
  {
    name: 'transaction: a callback that returns a plain value → resolves to it',
    run: async ({ db }) => {
      expect(await db.transaction(() => 42)).toBe(42);
      expect(await db.transaction(() => ({ then: (resolve: (v: number) => void) => resolve(7) }) as unknown as number)).toBe(7);
    },
  },
  {
    name: 'transaction: a callback that never uses tx → resolves, nothing changes',
    run: async ({ db }) => {
      expect(await db.transaction(async () => 'untouched')).toBe('untouched');
    },
  },
  { name: 'transaction: not a function → TypeError', run: ({ db }) => refuses(() => db.transaction('BEGIN' as never), TypeError, /transaction\(\) takes a function/) },
  {
    name: 'transaction: nested db.transaction() → TRANSACTION_STATE, the outer one rolls back cleanly',
    run: ({ db }) => refuses(() => db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO data(v) VALUES ('outer')`);
      return db.transaction(async () => 'inner');
    }), LibsqlError, /called inside this database's transaction callback/, 'TRANSACTION_STATE'),
  },
  {
    name: 'transaction: db.query() inside the callback → TRANSACTION_STATE (no deadlock)',
    run: async ({ db }) => {
      const code = await db.transaction(async () => (await rejectionOf(db.query('SELECT 1'))).code);
      expect(code).toBe('TRANSACTION_STATE');
    },
  },
  {
    name: 'transaction: tx used after the transaction ended → TRANSACTION_CLOSED',
    run: async ({ db }) => {
      let saved: { query(sql: string): Promise<unknown> } | undefined;
      await db.transaction(async (tx) => {
        saved = tx;
      });
      await refuses(() => saved!.query('SELECT 1'), LibsqlError, /already committed or rolled back/, 'TRANSACTION_CLOSED');
    },
  },
  {
    name: 'transaction: a failing statement caught inside the callback leaves the transaction usable',
    run: async ({ db }) => {
      const result = await db.transaction(async (tx) => {
        const { lastInsertRowid } = await tx.execute(`INSERT INTO scratch(v) VALUES ('kept')`);
        const caught = await rejectionOf(tx.execute('INSERT INTO data(id) VALUES (1)'));
        expect((caught as Thrown).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
        await tx.execute('DELETE FROM scratch WHERE id = ?', [lastInsertRowid]);
        return 'committed';
      });
      expect(result).toBe('committed');
    },
  },
  {
    name: 'transaction: VACUUM inside → SQLITE_ERROR, rolled back',
    run: ({ db }) => refuses(() => db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO data(v) VALUES ('before vacuum')`);
      await tx.execute('VACUUM');
    }), LibsqlError, /cannot VACUUM from within a transaction/, 'SQLITE_ERROR'),
  },
  {
    name: 'transaction: tx.execute(\'COMMIT\') inside → refused, or else nothing of a rejected transaction is committed',
    run: async ({ db }) => {
      const error = await rejectionOf(db.transaction(async (tx) => {
        await tx.execute(`INSERT INTO data(v) VALUES ('committed early by tx COMMIT')`);
        await tx.execute('COMMIT');
        return 'done';
      }));
      assertNoSecret(error);
      // transaction() rejected: then its write must not be there (the harness checks the table).
      expect(await db.query(`SELECT v FROM data WHERE v = 'committed early by tx COMMIT'`)).toEqual([]);
    },
  },
  {
    name: 'transaction: tx.execute(\'ROLLBACK\') then more writes → refused, or else nothing of a rejected transaction is committed',
    run: async ({ db }) => {
      const error = await rejectionOf(db.transaction(async (tx) => {
        await tx.execute(`INSERT INTO data(v) VALUES ('rolled back by tx ROLLBACK')`);
        await tx.execute('ROLLBACK');
        await tx.execute(`INSERT INTO data(v) VALUES ('written after tx ROLLBACK')`);
      }));
      assertNoSecret(error);
      expect(await db.query(`SELECT v FROM data WHERE v LIKE '%tx ROLLBACK'`)).toEqual([]);
    },
  },
  {
    name: 'top level: db.execute(\'BEGIN\') does not leave the connection inside a transaction',
    run: async ({ db }) => {
      try {
        await db.execute('BEGIN').catch((error: Thrown) => {
          expect(error).toBeInstanceOf(LibsqlError);
          expect(error.message).toMatch(/transaction/);
        });
        // The runner's own transactions (and Flue's stores, which use them) must still work.
        expect(await db.transaction(async (tx) => (await tx.query('SELECT 1 AS one'))[0].one)).toBe(1);
      } finally {
        await db.execute('ROLLBACK').catch(() => {});
      }
    },
  },
];

const migrationCases: Case[] = [
  { name: 'migrate: not an array → TypeError', run: ({ db }) => refuses(() => db.migrate('0001.sql' as never), TypeError, /migrate\(\) takes an array/) },
  { name: 'migrate: a malformed migration → TypeError naming it', run: ({ db }) => refuses(() => db.migrate([{ version: 'one', name: 'x', sql: 'SELECT 1' } as never]), TypeError, /migration 1 must be \{ version: integer/) },
  { name: 'migrate: versions out of order → RangeError', run: ({ db }) => refuses(() => db.migrate([{ version: 2, name: 'b', sql: 'SELECT 1' }, { version: 1, name: 'a', sql: 'SELECT 1' }], { set: 'bad-order' }), RangeError, /versions must increase strictly/) },
  {
    name: 'migrate: the 2nd migration fails → nothing changed, the migration named',
    run: ({ db }) => refuses(() => db.migrate([
      { version: 1, name: 'create', sql: 'CREATE TABLE created_by_failed_migration(x)' },
      { version: 2, name: 'broken', sql: 'CREATE TABL oops(x)' },
    ], { set: 'failing' }), LibsqlError, /migration 2 \('broken'\) failed, nothing was changed/),
  },
  {
    name: 'migrate: a recorded migration whose SQL changed → MIGRATION_CHANGED, nothing changed',
    run: async ({ fresh }) => {
      const other = await open(fresh('migrated.db'));
      try {
        await other.migrate([{ version: 1, name: 'notes', sql: 'CREATE TABLE notes(id INTEGER PRIMARY KEY)' }]);
        const before = await other.query('SELECT * FROM _flue_libsql_migrations');
        await refuses(() => other.migrate([{ version: 1, name: 'notes', sql: 'CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)' }]), LibsqlError, /changed/, 'MIGRATION_CHANGED');
        expect(await other.query('SELECT * FROM _flue_libsql_migrations')).toEqual(before);
      } finally {
        await other.close();
      }
    },
  },
  { name: 'loadMigrations: a missing folder → an error naming it', run: ({ fresh }) => refuses(() => loadMigrations(fresh('no-such-folder')), Error, /no-such-folder/) },
];

const openCases: Case[] = [
  { name: 'open: an empty url → TypeError INVALID_OPTION', run: () => refuses(() => open(''), TypeError, /option `url` is empty/, 'INVALID_OPTION') },
  { name: 'open: an unknown url scheme → TypeError INVALID_OPTION', run: () => refuses(() => open('ftp://example.invalid/db'), TypeError, /unknown url scheme 'ftp:'/, 'INVALID_OPTION') },
  { name: 'open: a url without a host → TypeError INVALID_OPTION', run: () => refuses(() => open('http://'), TypeError, /option `url` has no host/, 'INVALID_OPTION') },
  { name: 'open: a url that is not a string → TypeError INVALID_OPTION', run: () => refuses(() => open({ url: 5 as never }), TypeError, /option `url` must be a string/, 'INVALID_OPTION') },
  {
    name: 'open: null, a number, nothing → TypeError',
    run: async () => {
      await refuses(() => open(null as never), TypeError, /open\(\) takes a url string or an options object/);
      await refuses(() => open(42 as never), TypeError, /open\(\) takes a url/);
      await refuses(() => (open as () => Promise<Database>)(), TypeError, /open\(\) takes a url/);
    },
  },
  { name: 'open: an unknown option → TypeError naming it', run: () => refuses(() => open({ url: ':memory:', journalMode: 'delete' } as never), TypeError, /unknown option `journalMode`/, 'INVALID_OPTION') },
  { name: 'open: busyTimeout -1 → TypeError', run: () => refuses(() => open({ url: ':memory:', busyTimeout: -1 }), TypeError, /option `busyTimeout` must be a whole number/, 'INVALID_OPTION') },
  { name: 'open: busyTimeout of the wrong type → TypeError', run: () => refuses(() => open({ url: ':memory:', busyTimeout: 'soon' as never }), TypeError, /option `busyTimeout` must be a finite number, got a string/, 'INVALID_OPTION') },
  { name: 'open: an unknown durability → TypeError', run: () => refuses(() => open({ url: ':memory:', durability: 'sometimes' as never }), TypeError, /option `durability` must be 'full' or 'normal'/, 'INVALID_OPTION') },
  { name: 'open: syncInterval 0 → TypeError', run: () => refuses(() => open({ url: ':memory:', syncInterval: 0 }), TypeError, /option `syncInterval` must be a positive number/, 'INVALID_OPTION') },
  { name: 'open: readYourWrites not a boolean → TypeError', run: () => refuses(() => open({ url: ':memory:', readYourWrites: 'yes' as never }), TypeError, /option `readYourWrites` must be a boolean/, 'INVALID_OPTION') },
  { name: 'open: an empty encryptionKey → TypeError', run: () => refuses(() => open({ url: ':memory:', encryptionKey: '' }), TypeError, /option `encryptionKey` must not be empty/, 'INVALID_OPTION') },
  { name: 'open: an encryptionKey for a remote url → TypeError', run: () => refuses(() => open({ url: CLOSED_LOOPBACK, encryptionKey: 'k' }), TypeError, /option `encryptionKey` encrypts local files/, 'INVALID_OPTION') },
  { name: 'adapter: an invalid url fails migrate() at boot → TypeError', run: () => refuses(() => libsql({ url: 'ftp://example.invalid/db' }).migrate(), TypeError, /unknown url scheme 'ftp:'/, 'INVALID_OPTION') },
  {
    name: 'file: a directory as the database → SQLITE_CANTOPEN naming the path',
    run: async ({ fresh }) => {
      const path = fresh('a-directory.db');
      mkdirSync(path);
      await refuses(() => open(`file:${path}`), LibsqlError, new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'SQLITE_CANTOPEN');
      expect(statSync(path).isDirectory()).toBe(true);
    },
  },
  {
    name: 'file: a path under a regular file → SQLITE_CANTOPEN',
    run: async ({ fresh }) => {
      const file = fresh('plain-file');
      writeFileSync(file, 'not a folder');
      await refuses(() => open(`file:${file}/inside.db`), LibsqlError, /inside\.db/, 'SQLITE_CANTOPEN');
      expect(readFileSync(file, 'utf8')).toBe('not a folder');
    },
  },
  {
    name: 'file: a garbage file → SQLITE_NOTADB, the file untouched',
    run: async ({ fresh }) => {
      const path = fresh('garbage.db');
      writeFileSync(path, randomFillSync(Buffer.alloc(10_000)));
      const before = await sha256File(path);
      await refuses(() => open(`file:${path}`), LibsqlError, /file is not a database/, 'SQLITE_NOTADB');
      await refuses(() => libsql({ url: `file:${path}` }).migrate(), LibsqlError, /file is not a database/, 'SQLITE_NOTADB');
      expect(await sha256File(path)).toBe(before);
    },
  },
  {
    name: 'file: a zero-byte file opens as an empty database and migrates',
    run: async ({ fresh }) => {
      const path = fresh('zero.db');
      writeFileSync(path, '');
      const adapter = libsql({ url: `file:${path}` });
      await adapter.migrate();
      const { conversationStreamStore } = await adapter.connect();
      await conversationStreamStore.createStream('agents/zero/1', { agentName: 'zero', instanceId: '1' });
      expect(await conversationStreamStore.getMeta('agents/zero/1')).not.toBeNull();
      await adapter.close();
    },
  },
  {
    name: 'file: a wrong encryption key → SQLITE_NOTADB, the file untouched, the right key still works',
    run: async ({ fresh }) => {
      const path = fresh('encrypted.db');
      const owner = await open({ url: `file:${path}`, encryptionKey: 'the-right-key' });
      await owner.exec(`CREATE TABLE secret(v TEXT); INSERT INTO secret VALUES ('kept');`);
      await owner.close();
      const before = await sha256File(path);
      await refuses(() => open({ url: `file:${path}`, encryptionKey: 'a-wrong-key' }), LibsqlError, /file is not a database/, 'SQLITE_NOTADB');
      await refuses(() => open(`file:${path}`), LibsqlError, /file is not a database/, 'SQLITE_NOTADB');
      expect(await sha256File(path)).toBe(before);
      const again = await open({ url: `file:${path}`, encryptionKey: 'the-right-key' });
      expect(await again.query('SELECT v FROM secret')).toEqual([{ v: 'kept' }]);
      await again.execute(`INSERT INTO secret VALUES ('more')`);
      await again.close();
    },
  },
  {
    name: 'file: a plaintext database opened with a key → SQLITE_NOTADB, the file untouched',
    run: async ({ fresh }) => {
      const path = fresh('plain.db');
      const owner = await open(`file:${path}`);
      await owner.exec(`CREATE TABLE t(v); INSERT INTO t VALUES (1);`);
      await owner.close();
      const before = await sha256File(path);
      await refuses(() => open({ url: `file:${path}`, encryptionKey: 'some-key' }), LibsqlError, /file is not a database/, 'SQLITE_NOTADB');
      expect(await sha256File(path)).toBe(before);
    },
  },
  {
    name: 'file: a read-only file (chmod 0444) → reads work, writes fail with SQLITE_READONLY, the file untouched',
    run: async ({ fresh }) => {
      const folder = fresh('readonly');
      mkdirSync(folder);
      const path = `${folder}/ro.db`;
      const owner = await open(`file:${path}`);
      await owner.exec(`CREATE TABLE data(id INTEGER PRIMARY KEY, v); INSERT INTO data(v) VALUES ('read-only row');`);
      await owner.close();
      chmodSync(path, 0o444);
      const before = await sha256File(path);
      // As root, permissions do not stop writes: the child drops to user `nobody` (65534).
      // It must reach the file, and may create the -wal/-shm files next to it (read-only WAL access).
      chmodSync(folder, 0o777);
      chmodSync(dirname(folder), statSync(dirname(folder)).mode | 0o011);
      const { steps, alive } = await childSteps(process.execPath, [CHILD, 'readonly', path, ...(isRoot ? ['65534'] : [])]);
      expect(alive).toBe(true);
      if (isRoot) expect(steps.uid?.value).toBe(65534);
      expect(steps.open?.ok, steps.open?.message).toBe(true);
      expect(steps.read?.value).toEqual([{ id: 1, v: 'read-only row' }]);
      for (const write of ['execute', 'transaction', 'batch']) {
        expect(steps[write], write).toMatchObject({ ok: false, name: 'LibsqlError', code: 'SQLITE_READONLY' });
        expect(steps[write].message).toMatch(/readonly database/);
      }
      expect(steps['read again']?.value).toEqual([{ id: 1, v: 'read-only row' }]);
      expect(await sha256File(path)).toBe(before);
    },
    skip: () => {
      if (!isRoot) return undefined;
      const probe = spawnSync(process.execPath, ['-e', 'process.setuid(65534)'], { encoding: 'utf8' });
      return probe.status === 0 ? undefined : `running as root and cannot drop to uid 65534 (${probe.stderr.trim()}), so chmod 0444 would not stop writes`;
    },
  },
  {
    name: 'disk full (a 2 MB tmpfs) → SQLITE_FULL, nothing changed, usable afterwards',
    run: async ({ fresh }) => {
      const mount = fresh('tmpfs');
      mkdirSync(mount);
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount], { encoding: 'utf8' });
      if (mounted.status !== 0) throw new Error(`mount failed after the probe succeeded: ${mounted.stderr}`);
      try {
        const full = await open(`file:${mount}/full.db`);
        await full.exec(`CREATE TABLE data(id INTEGER PRIMARY KEY, v); INSERT INTO data(v) VALUES ('known row');`);
        const before = await fingerprint(full);
        await refuses(() => full.execute('INSERT INTO data(v) VALUES (?)', [new Uint8Array(3_000_000)]), LibsqlError, /disk is full/, 'SQLITE_FULL');
        await refuses(() => full.transaction(async (tx) => {
          for (let i = 0; i < 20; i++) await tx.execute('INSERT INTO data(v) VALUES (?)', [new Uint8Array(200_000).fill(i)]);
        }), LibsqlError, /disk is full/, 'SQLITE_FULL');
        expect(await fingerprint(full)).toBe(before);
        await full.execute(`INSERT INTO data(v) VALUES ('small row after the failures')`);
        expect(await full.query('SELECT v FROM data ORDER BY id')).toEqual([{ v: 'known row' }, { v: 'small row after the failures' }]);
        expect(await full.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
        await full.close();
      } finally {
        spawnSync('umount', ['-l', mount]);
      }
    },
    skip: () => {
      if (!isRoot) return 'mounting a tmpfs needs root (the file-size-limit case covers a full disk instead)';
      const probeDir = `${process.env.TMPDIR ?? '/tmp'}/flue-libsql-mount-probe-${process.pid}`;
      mkdirSync(probeDir, { recursive: true });
      const probe = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probeDir], { encoding: 'utf8' });
      if (probe.status === 0) spawnSync('umount', [probeDir]);
      spawnSync('rmdir', [probeDir]);
      return probe.status === 0 ? undefined : `mount -t tmpfs was refused here (${probe.stderr.trim()}); the file-size-limit case covers a full disk instead`;
    },
  },
  {
    name: 'disk full (a file-size limit, EFBIG) → SQLITE_IOERR/FULL in a live process, nothing changed, usable afterwards',
    run: async ({ fresh }) => {
      const path = fresh('fsize.db');
      const owner = await open(`file:${path}`);
      await owner.exec(`CREATE TABLE data(id INTEGER PRIMARY KEY, v); INSERT INTO data(v) VALUES ('known row');`);
      await owner.close();
      const { steps, alive, stderr } = await childSteps('prlimit', ['--fsize=1000000', process.execPath, CHILD, 'fsize', path]);
      expect(alive, stderr).toBe(true);
      for (const failing of ['large insert', 'large transaction']) {
        expect(steps[failing]?.ok, failing).toBe(false);
        expect(steps[failing].name).toBe('LibsqlError');
        expect(steps[failing].code).toMatch(/^SQLITE_(FULL|IOERR)/);
        expect(steps[failing].message).toMatch(/disk I\/O error|disk is full/);
      }
      expect(steps['small insert']?.ok).toBe(true);
      // A burst of 40 concurrent 50 kB inserts (a group commit) outgrows the limit part way:
      // each insert either resolved and is stored, or rejected and is not — none is lost
      // after it resolved, none half there.
      const burst = steps.burst?.value as { fulfilled: number[]; codes: string[] };
      expect(steps.burst?.ok, JSON.stringify(steps.burst)).toBe(true);
      expect(burst.fulfilled.length).toBeLessThan(40);
      for (const code of burst.codes) expect(code).toMatch(/^SQLITE_(FULL|IOERR)/);
      expect(steps.close?.ok).toBe(true);
      const after = await open(`file:${path}`);
      const stored = await after.query<{ i: number; n: number }>(
        "SELECT CAST(substr(v, 7, instr(substr(v, 7), ' ') - 1) AS INTEGER) AS i, length(v) AS n FROM data WHERE v LIKE 'burst %' ORDER BY 1",
      );
      expect(stored.map((row) => row.i)).toEqual([...burst.fulfilled].sort((x, y) => x - y));
      for (const row of stored) expect(row.n).toBe(`burst ${row.i} `.length + 50_000);
      expect(await after.query("SELECT v FROM data WHERE v NOT LIKE 'burst %' ORDER BY id")).toEqual([{ v: 'known row' }, { v: 'small row after the failures' }]);
      expect(await after.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      await after.close();
    },
    skip: () => (spawnSync('prlimit', ['--version']).status === 0 ? undefined : 'prlimit (util-linux) is not installed'),
  },
];

/** Every error on the way to an unreachable server, with a recognizable token in every place a token can go. */
const tokenCases: Case[] = [
  {
    name: 'token: ?authToken= in an unreachable remote url → SERVER_UNREACHABLE without the token',
    run: async () => {
      const db = await open(`${CLOSED_LOOPBACK}/?authToken=${SECRET}`);
      try {
        await refuses(() => db.query('SELECT 1'), LibsqlError, /Connection refused|connect/, 'SERVER_UNREACHABLE');
      } finally {
        await db.close();
      }
    },
  },
  {
    name: 'token: the authToken option, unreachable server → SERVER_UNREACHABLE without the token',
    run: async () => {
      const db = await open({ url: CLOSED_LOOPBACK, authToken: SECRET });
      try {
        await refuses(() => db.execute('INSERT INTO t VALUES (1)'), LibsqlError, /Connection refused|connect/, 'SERVER_UNREACHABLE');
        await refuses(() => db.transaction(async (tx) => tx.query('SELECT 1')), LibsqlError, /connect/);
      } finally {
        await db.close();
      }
    },
  },
  {
    name: 'token: a JWT-shaped token, unreachable server → no part of it in the error',
    run: async () => {
      const db = await open({ url: `${CLOSED_LOOPBACK}/?authToken=${JWT_SECRET}` });
      try {
        await refuses(() => db.query('SELECT 1'), LibsqlError, /connect/, 'SERVER_UNREACHABLE');
      } finally {
        await db.close();
      }
    },
  },
  { name: 'token: adapter migrate() against an unreachable server → no token', run: () => refuses(() => libsql({ url: `libsql://127.0.0.1:1/?authToken=${SECRET}`, authToken: SECRET }).migrate(), LibsqlError, /connect/, 'SERVER_UNREACHABLE') },
  { name: 'token: an embedded replica of an unreachable server → SYNC_FAILED without the token', run: ({ fresh }) => refuses(() => open({ url: `file:${fresh('replica.db')}`, syncUrl: `${CLOSED_LOOPBACK}/?authToken=${SECRET}`, authToken: SECRET }), LibsqlError, /replica.*first sync failed/, 'SYNC_FAILED') },
  { name: 'token: an invalid option next to a token-bearing url → TypeError without the token', run: () => refuses(() => open({ url: `${CLOSED_LOOPBACK}/?authToken=${SECRET}`, authToken: SECRET, syncInterval: -5 }), TypeError, /syncInterval/, 'INVALID_OPTION') },
  { name: 'token: a malformed url carrying a token → TypeError without the token', run: () => refuses(() => open(`notascheme://host/?authToken=${SECRET}`), TypeError, /unknown url scheme 'notascheme:'/, 'INVALID_OPTION') },
];

const CASES: Case[] = [...valueCases, ...textCases, ...countCases, ...sqlCases, ...lifecycleCases, ...migrationCases, ...openCases, ...tokenCases];

// ---- the harness -----------------------------------------------------------------------

describe(`bad input (${CASES.length} cases): a clear error, the process up, the database unchanged and usable`, () => {
  let dir: TempDir;
  let db: Database;
  let freshCount = 0;

  beforeAll(async () => {
    dir = await makeTempDir();
    db = await open(`file:${dir.file('main.db')}`);
    await db.exec(`
      CREATE TABLE data(id INTEGER PRIMARY KEY, v);
      CREATE TABLE scratch(id INTEGER PRIMARY KEY, v);
      INSERT INTO data(v) VALUES ('text'), (1.5), (x'00ff'), (NULL), (9007199254740993);`);
  });

  afterAll(async () => {
    if (db) {
      expect(await db.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      await db.close();
    }
    await dir?.remove();
  });

  it('has at least 60 cases with distinct names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.for(CASES)('$name', async (testCase, context) => {
    const reason = testCase.skip?.();
    if (reason) {
      console.warn(`[reliability-bad-input] skipped "${testCase.name}": ${reason}`);
      context.skip(reason);
    }
    const known = `known row before: ${testCase.name}`;
    await db.execute('INSERT INTO data(v) VALUES (?)', [known]);
    const before = await fingerprint(db);

    await testCase.run({ db, dir, fresh: (name) => dir.file(`case-${++freshCount}-${name}`) });

    expect(await db.query('SELECT count(*) AS n FROM data WHERE v = ?', [known])).toEqual([{ n: 1 }]);
    expect(await fingerprint(db)).toBe(before);
    // Usable afterwards: one more write transaction commits (and is undone, to keep `data` as it was).
    const inserted = await db.transaction(async (tx) => {
      const { lastInsertRowid } = await tx.execute('INSERT INTO scratch(v) VALUES (?)', [`after: ${testCase.name}`]);
      return lastInsertRowid;
    });
    expect(await db.query('SELECT v FROM scratch WHERE id = ?', [inserted])).toEqual([{ v: `after: ${testCase.name}` }]);
    await db.execute('DELETE FROM scratch WHERE id = ?', [inserted]);
  });
});
