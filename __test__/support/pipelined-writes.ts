/**
 * Writes of many callers over a slow link, each caller starting in a JS turn of its own, so
 * none travel together: what shows whether a connection pipelines its writes on one stream
 * (src/executor/pool.rs, src/executor/serial.rs), and whether they commit in call order.
 */
import { expect } from 'vitest';
import { sleep, type Database } from './runner-helpers.js';

export const PIPELINED_TABLE = 'CREATE TABLE p(id INTEGER PRIMARY KEY, caller INTEGER, i INTEGER)';

/**
 * 12 callers, 2 ms apart, each inserting 3 rows `(caller, i)` into `p` one after another;
 * then checks that `p` holds them (callers >= 0) in the order they were called.
 */
export async function expectWritesInCallOrder(db: Database): Promise<void> {
  const called: Array<[number, number]> = [];
  await Promise.all(
    Array.from({ length: 12 }, async (_, caller) => {
      await sleep(2 * caller);
      for (let i = 0; i < 3; i++) {
        called.push([caller, i]);
        await db.execute('INSERT INTO p(caller, i) VALUES (?, ?)', [caller, i]);
      }
    }),
  );
  const stored = await db.query<{ caller: number; i: number }>('SELECT caller, i FROM p WHERE caller >= 0 ORDER BY id');
  expect(stored.map(({ caller, i }) => [caller, i])).toEqual(called);
}
