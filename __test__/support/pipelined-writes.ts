/**
 * Writes of many callers over a slow link, each caller starting in a JS turn of its own, so
 * none travel together: what shows whether a connection pipelines its writes on one stream
 * (src/executor/pool.rs, src/executor/serial.rs), and whether they commit in call order.
 */
import { expect } from 'vitest';
import type { LatencyProxy } from '../../scripts/latency-proxy.mjs';
import { sleep, type Database } from './runner-helpers.js';

export const PIPELINED_TABLE = 'CREATE TABLE p(id INTEGER PRIMARY KEY, caller INTEGER, i INTEGER)';

/**
 * 12 callers, 2 ms apart, each inserting 3 rows `(caller, i)` into `p` one after another,
 * through `proxy`; then checks that `p` holds them (callers >= 0) in the order they were called
 * (read back through `db` at once), that they opened no connection, and, where `pipelined`,
 * that several requests went out on one connection before an answer came back.
 */
export async function expectWritesInCallOrder(db: Database, proxy: LatencyProxy, pipelined: boolean): Promise<void> {
  const connectionsBefore = proxy.stats().connections;
  proxy.resetMostUnanswered();
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
  const { connections, mostUnanswered } = proxy.stats();
  expect(connections - connectionsBefore).toBe(0);
  // One request at a time sends one chunk and waits; pipelined, the next go out meanwhile.
  if (pipelined) expect(mostUnanswered).toBeGreaterThanOrEqual(3);
}
