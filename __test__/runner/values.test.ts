/**
 * `db.query(sql, params)`: rows as plain objects, parameter styles, and the value mapping
 * between JavaScript and SQLite in both directions — including edge values and every kind of
 * parameter the runner must refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachKind, expectLibsqlError,
  isRemoteKind,
  RUNNER_KINDS, openTarget, rejectionOf, type Database, type TestDatabase } from '../support/runner-helpers.js';

describeEachKind('values', RUNNER_KINDS, (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    target = await openTarget(kind);
    db = target.db;
    // `x` has no declared type (no affinity): SQLite stores each value exactly as bound.
    await db.exec('CREATE TABLE v(id INTEGER PRIMARY KEY, x)');
  });
  afterAll(() => target.dispose());

  /** Stores `value` in a table, reads it back, and reports SQLite's storage class for it. */
  async function roundTrip(value: unknown): Promise<{ x: unknown; type: string }> {
    const { lastInsertRowid } = await db.execute('INSERT INTO v(x) VALUES (?)', [value]);
    const rows = await db.query<{ x: unknown; type: string }>('SELECT x, typeof(x) AS type FROM v WHERE id = ?', [lastInsertRowid]);
    expect(rows).toHaveLength(1);
    return rows[0];
  }

  describe('rows', () => {
    it('come back as plain objects keyed by column name, in column order', async () => {
      const rows = await db.query("SELECT 1 AS a, 'two' AS b, NULL AS c UNION ALL SELECT 3, 'four', 5");
      expect(rows).toEqual([
        { a: 1, b: 'two', c: null },
        { a: 3, b: 'four', c: 5 },
      ]);
      for (const row of rows) {
        expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
        expect(Object.keys(row)).toEqual(['a', 'b', 'c']);
      }
    });

    it('when two columns share a name, the later one wins', async () => {
      expect(await db.query('SELECT 1 AS a, 2 AS a')).toEqual([{ a: 2 }]);
    });

    it('a column named __proto__ is an ordinary own property, and never the row’s prototype', async () => {
      const [text] = await db.query("SELECT 'x' AS __proto__, 1 AS a");
      expect(Object.getPrototypeOf(text)).toBe(Object.prototype);
      expect(Object.keys(text)).toEqual(['__proto__', 'a']);
      expect(Object.getOwnPropertyDescriptor(text, '__proto__')?.value).toBe('x');
      const [blob] = await db.query("SELECT x'0102' AS __proto__, 2 AS b");
      expect(blob).not.toBeInstanceOf(Uint8Array);
      expect(Object.getPrototypeOf(blob)).toBe(Object.prototype);
      expect(Array.from(Object.getOwnPropertyDescriptor(blob, '__proto__')?.value as Uint8Array)).toEqual([1, 2]);
    });

    it('a query without rows resolves to an empty array', async () => {
      expect(await db.query('SELECT 1 WHERE 0')).toEqual([]);
      expect(await db.query('CREATE TABLE IF NOT EXISTS empty_rows(x)')).toEqual([]);
    });
  });

  describe('parameter styles', () => {
    it('? placeholders take an array, in order', async () => {
      expect(await db.query('SELECT ? AS a, ? AS b, ? AS c', ['x', 2, null])).toEqual([{ a: 'x', b: 2, c: null }]);
    });

    it(':name, @name and $name placeholders take an object keyed by the bare name', async () => {
      const rows = await db.query('SELECT :first AS a, @second AS b, $third AS c', { third: 3, first: 'one', second: 2n });
      expect(rows).toEqual([{ a: 'one', b: 2, c: 3 }]);
    });

    it('object keys may carry the prefix too', async () => {
      expect(await db.query('SELECT :a AS a, @b AS b, $c AS c', { ':a': 1, '@b': 2, $c: 3 })).toEqual([{ a: 1, b: 2, c: 3 }]);
    });

    it('a name used twice in the SQL binds one value', async () => {
      expect(await db.query('SELECT :n AS a, :n + 1 AS b', { n: 41 })).toEqual([{ a: 41, b: 42 }]);
    });

    it('null or undefined params mean "no parameters"', async () => {
      expect(await db.query('SELECT 7 AS n', undefined)).toEqual([{ n: 7 }]);
      expect(await db.query('SELECT 7 AS n', null as unknown as [])).toEqual([{ n: 7 }]);
      expect(await db.query('SELECT 7 AS n', [])).toEqual([{ n: 7 }]);
    });
  });

  describe('JavaScript → SQLite storage classes', () => {
    it.each([
      { what: 'a string', value: 'hello', type: 'text', back: 'hello' },
      { what: 'an integral number', value: 42, type: 'integer', back: 42 },
      { what: 'a negative integral number', value: -7, type: 'integer', back: -7 },
      { what: 'a fractional number', value: 1.5, type: 'real', back: 1.5 },
      { what: 'an integral number beyond 2^53 (not exact)', value: 2 ** 53, type: 'real', back: 2 ** 53 },
      { what: 'a bigint beyond 2^53', value: 12345678901234567n, type: 'integer', back: 12345678901234567n },
      { what: 'a small bigint', value: 5n, type: 'integer', back: 5 },
      { what: 'true', value: true, type: 'integer', back: 1 },
      { what: 'false', value: false, type: 'integer', back: 0 },
      { what: 'null', value: null, type: 'null', back: null },
    ])('$what is stored as $type', async ({ value, type, back }) => {
      const stored = await roundTrip(value);
      expect(stored.type).toBe(type);
      expect(stored.x).toStrictEqual(back);
    });

    it('a Uint8Array, a Buffer and an ArrayBuffer are stored as BLOBs and read back as Uint8Array', async () => {
      const bytes = [0, 1, 127, 128, 255];
      for (const value of [new Uint8Array(bytes), Buffer.from(bytes), new Uint8Array(bytes).buffer]) {
        const stored = await roundTrip(value);
        expect(stored.type).toBe('blob');
        expect(stored.x).toBeInstanceOf(Uint8Array);
        expect(Object.getPrototypeOf(stored.x)).toBe(Uint8Array.prototype);
        expect(Array.from(stored.x as Uint8Array)).toEqual(bytes);
      }
    });

    it('a Uint8Array view stores only its own bytes, not the whole underlying buffer', async () => {
      const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
      const stored = await roundTrip(view);
      expect(Array.from(stored.x as Uint8Array)).toEqual([1, 2, 3]);
    });

    it('the types SQLite reports for bound parameters match (typeof(?))', async () => {
      const rows = await db.query('SELECT typeof(?) a, typeof(?) b, typeof(?) c, typeof(?) d, typeof(?) e, typeof(?) f', [
        'text',
        3,
        3.25,
        3n,
        new Uint8Array([1]),
        null,
      ]);
      expect(rows).toEqual([{ a: 'text', b: 'integer', c: 'real', d: 'integer', e: 'blob', f: 'null' }]);
    });
  });

  describe('integers: number within ±(2^53-1), bigint beyond', () => {
    it.each([
      ['2^53-1', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
      ['-(2^53-1)', -Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
      ['2^53-1 given as a bigint', BigInt(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
      ['2^53', 2n ** 53n, 2n ** 53n],
      ['-(2^53)', -(2n ** 53n), -(2n ** 53n)],
      ['2^63-1', 2n ** 63n - 1n, 2n ** 63n - 1n],
      ['-(2^63)', -(2n ** 63n), -(2n ** 63n)],
    ])('%s round-trips exactly', async (_what, value, back) => {
      const stored = await roundTrip(value);
      expect(stored.type).toBe('integer');
      expect(stored.x).toStrictEqual(back);
      expect(typeof stored.x).toBe(typeof back);
    });

    it('integers computed by SQL follow the same rule', async () => {
      const [row] = await db.query('SELECT 9007199254740991 AS safe, 9007199254740991 + 1 AS unsafe, -9223372036854775807 - 1 AS min');
      expect(row).toStrictEqual({ safe: Number.MAX_SAFE_INTEGER, unsafe: 2n ** 53n, min: -(2n ** 63n) });
    });

    it.each([
      ['2^63', 2n ** 63n],
      ['-(2^63)-1', -(2n ** 63n) - 1n],
      ['2^64', 2n ** 64n],
    ])('a bigint beyond int64 (%s) → RangeError naming the parameter', async (_what, value) => {
      const error = await rejectionOf(db.query('SELECT ?, ? AS x', [1, value]));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/parameter 2 \(params\[1\]\)/);
      expect(error.message).toMatch(/64-bit/);
    });
  });

  describe('edge values round-trip', () => {
    it.each([
      ['the empty string', '', 'text'],
      ['emoji and astral characters', '😀 𝄞 👩‍👩‍👧 — ü — 中文', 'text'],
      ['a long string (1 MiB)', 'x'.repeat(1 << 20), 'text'],
      ['1e308', 1e308, 'real'],
      ['-1e308', -1e308, 'real'],
      ['the largest double', Number.MAX_VALUE, 'real'],
      ['the smallest positive subnormal (5e-324)', Number.MIN_VALUE, 'real'],
      ['the smallest normal double', 2.2250738585072014e-308, 'real'],
      ['a tiny negative float', -1e-300, 'real'],
      ['0.1 + 0.2 (all 17 digits)', 0.1 + 0.2, 'real'],
    ])('%s', async (_what, value, type) => {
      const stored = await roundTrip(value);
      expect(stored.type).toBe(type);
      expect(stored.x).toStrictEqual(value);
    });

    it('text with NUL characters inside keeps every character', async () => {
      const value = 'a\0b\0\0c';
      // SQLite has all 6 bytes (hex) ...
      const [hex] = await db.query<{ h: string }>('SELECT hex(?) AS h', [value]);
      expect(hex.h).toBe('610062000063');
      // ... and so must the string read back.
      const stored = await roundTrip(value);
      expect(stored.type).toBe('text');
      expect(stored.x).toBe(value);
    });

    it('an empty blob stays a zero-length BLOB (not NULL)', async () => {
      const stored = await roundTrip(new Uint8Array(0));
      expect(stored.type).toBe('blob');
      expect(stored.x).toBeInstanceOf(Uint8Array);
      expect((stored.x as Uint8Array).length).toBe(0);
    });

    it('a blob of every byte value, including NULs, round-trips', async () => {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const stored = await roundTrip(bytes);
      expect(stored.x).toEqual(bytes);
    });

    it('-0 is integral, so it is stored as INTEGER 0', async () => {
      const stored = await roundTrip(-0);
      expect(stored.type).toBe('integer');
      expect(stored.x).toBe(0);
    });

    it('a REAL -0.0 computed by SQL reads back as a number equal to 0', async () => {
      const [row] = await db.query<{ z: number; t: string }>('SELECT -0.0 AS z, typeof(-0.0) AS t');
      expect(row.t).toBe('real');
      expect(row.z === 0).toBe(true);
    });

    it('TEXT holding invalid UTF-8 (written by another client) reads back without an internal error', async () => {
      // CAST(x'..' AS TEXT) makes TEXT whose bytes are not valid UTF-8, as a C client could.
      const sql = "SELECT CAST(x'61ff62' AS TEXT) AS t, typeof(CAST(x'61ff62' AS TEXT)) AS type";
      if (kind === 'remote') {
        // sqld cannot put such text into its JSON answer and refuses the request; the error says so.
        await expectLibsqlError(db.query(sql), 'SERVER_ERROR', /invalid utf-8/);
        expect(await db.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
        return;
      }
      if (kind === 'remote-ws') {
        // Over WebSocket sqld drops the connection instead; the next call runs on a new one.
        await expectLibsqlError(db.query(sql), 'SERVER_UNREACHABLE', /lost the connection .* during a request/);
        expect(await db.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
        return;
      }
      const rows = await db.query<{ t: string; type: string }>(sql);
      expect(rows[0].type).toBe('text');
      // The invalid byte becomes U+FFFD, as in better-sqlite3 and TextDecoder.
      expect(rows[0].t).toBe('a\uFFFDb');
    });
  });

  describe('parameters SQLite cannot store → TypeError naming the parameter', () => {
    const detached = () => {
      const buffer = new ArrayBuffer(8);
      structuredClone(buffer, { transfer: [buffer] });
      return buffer;
    };
    const detachedView = () => {
      const buffer = new ArrayBuffer(8);
      const view = new Uint8Array(buffer);
      structuredClone(buffer, { transfer: [buffer] });
      return view;
    };
    const cases: [string, () => unknown, RegExp][] = [
      ['undefined', () => undefined, /undefined/],
      ['a function', () => () => 1, /function/],
      ['a symbol', () => Symbol('s'), /symbol/],
      ['a plain object', () => ({ a: 1 }), /an object/],
      ['an array', () => [1, 2], /an array/],
      ['a Date', () => new Date(0), /Date/],
      ['NaN', () => NaN, /NaN/],
      ['Infinity', () => Infinity, /Infinity/],
      ['-Infinity', () => -Infinity, /-Infinity/],
      ['an Int16Array', () => new Int16Array(2), /Int16Array/],
      ['a Float64Array', () => new Float64Array(2), /Float64Array/],
      ['a BigInt64Array', () => new BigInt64Array(2), /BigInt64Array/],
      ['a DataView', () => new DataView(new ArrayBuffer(2)), /DataView/],
      ['a detached ArrayBuffer', detached, /detached/],
      ['a Uint8Array over a detached buffer', detachedView, /detached/],
      ['a string with a lone high surrogate', () => 'ab\uD83Dcd', /lone surrogate/],
      ['a string with a lone low surrogate', () => '\uDE00', /lone surrogate/],
      ['a boxed string', () => new String('x'), /an object/],
    ];

    it.each(cases)('%s, positional', async (_what, make, message) => {
      const error = await rejectionOf(db.query('SELECT ? AS a, ? AS b', [1, make()]));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/parameter 2 \(params\[1\]\)/);
      expect(error.message).toMatch(message);
    });

    it.each(cases)('%s, named', async (_what, make, message) => {
      const error = await rejectionOf(db.query('SELECT :good AS a, :bad AS b', { good: 1, bad: make() }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/parameter `bad`/);
      expect(error.message).toMatch(message);
    });

    it('a hole in a sparse array is refused like undefined', async () => {
      const params: unknown[] = [1];
      params.length = 3;
      params[2] = 3;
      const error = await rejectionOf(db.query('SELECT ?, ?, ?', params));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/parameter 2 \(params\[1\]\) is undefined/);
    });

    it('a refused parameter writes nothing and leaves the database usable', async () => {
      const [{ n: before }] = await db.query<{ n: number }>('SELECT count(*) AS n FROM v');
      const error = await rejectionOf(db.execute('INSERT INTO v(x) VALUES (?)', [Symbol('nope')]));
      expect(error).toBeInstanceOf(TypeError);
      const [{ n: after }] = await db.query<{ n: number }>('SELECT count(*) AS n FROM v');
      expect(after).toBe(before);
    });

    it('params that are neither an array nor an object → TypeError', async () => {
      for (const params of ['x', 5, true, new Uint8Array(1), new Date()]) {
        const error = await rejectionOf(db.query('SELECT ?', params as unknown as []));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toMatch(/params must be an array .* or a plain object/);
      }
    });

    it('sql that is not a string → TypeError', async () => {
      const error = await rejectionOf(db.query(42 as unknown as string));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/sql must be a string/);
    });
  });

  describe('parameters that do not match the placeholders → RangeError', () => {
    it('too many positional parameters', async () => {
      const error = await rejectionOf(db.query('SELECT ? AS a', [1, 2]));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/has 1 parameter but 2 were given/);
    });

    it('too few positional parameters', async () => {
      const error = await rejectionOf(db.query('SELECT ? AS a, ? AS b, ? AS c', [1]));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/has 3 parameters but 1 were given/);
    });

    it('parameters for a statement without placeholders', async () => {
      const error = await rejectionOf(db.query('SELECT 1', [1]));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/has 0 parameters but 1 were given/);
    });

    it('no parameters for a statement with placeholders', async () => {
      const error = await rejectionOf(db.query('SELECT ? AS a'));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/has 1 parameter but no params were given/);
    });

    it('a missing named parameter', async () => {
      const error = await rejectionOf(db.query('SELECT :a AS a, :b AS b', { a: 1 }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/missing named parameter `b`/);
    });

    it('an unknown named parameter', async () => {
      const error = await rejectionOf(db.query('SELECT :a AS a', { a: 1, typo: 2 }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/unknown named parameter `typo`/);
    });

    it('an object for ? placeholders → TypeError telling to pass an array', async () => {
      const error = await rejectionOf(db.query('SELECT ? AS a', { a: 1 }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/positional \? placeholder/);
    });
  });
});
