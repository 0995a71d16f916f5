/**
 * A `Runner` over `@libsql/client`, hand-written the way Flue's libSQL guide tells users to
 * write one: every call joins one promise chain, rows become plain objects from
 * `rows`/`columns`, and `transaction` wraps `client.transaction('write')`.
 *
 * The one copy: the tests use it as the reference driver, the benchmark (bench/) uses it as
 * "peer 1". Keep it faithful to the guide. Two additions: the file pragmas (the benchmark's
 * common set, scripts/connection-pragmas.mjs, which a careful user sets too), and a `close`
 * that joins the chain, because the `Runner` contract has close wait for work in flight.
 */
import { createClient } from '@libsql/client';
import { pragmasFor } from './connection-pragmas.mjs';

/** @param {import('@libsql/client').ResultSet} rs */
const toRows = (rs) => rs.rows.map((row) => Object.fromEntries(rs.columns.map((column) => [column, row[column]])));

/**
 * @param {string} url
 * @param {'full' | 'normal'} [durability] the synchronous level of the file pragmas
 * @returns {import('../lib/types.js').Runner}
 */
export function clientRunner(url, durability = 'full') {
  const client = createClient({ url });

  /** @type {Promise<unknown>} */
  let tail = Promise.resolve();
  /** @template T @param {() => Promise<T>} operation @returns {Promise<T>} */
  const serialize = (operation) => {
    const result = tail.then(operation, operation);
    tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };

  // The serialized chain keeps the client on a single pooled connection (the pool reuses
  // its idle connection), so these per-connection settings stay in force for every later call.
  if (url.startsWith('file:')) {
    void serialize(async () => {
      for (const pragma of pragmasFor(durability)) await client.execute(`PRAGMA ${pragma}`);
    });
  }

  return {
    query: (text, params = []) => serialize(async () => toRows(await client.execute({ sql: text, args: /** @type {any} */ (params) }))),
    transaction: (fn) =>
      serialize(async () => {
        const tx = await client.transaction('write');
        try {
          const result = await fn({
            query: async (text, params = []) => toRows(await tx.execute({ sql: text, args: /** @type {any} */ (params) })),
          });
          await tx.commit();
          return result;
        } catch (error) {
          await tx.rollback();
          throw error;
        } finally {
          tx.close();
        }
      }),
    close: () => serialize(async () => client.close()),
  };
}
