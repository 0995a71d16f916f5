/**
 * A `Runner` over `@libsql/client`, hand-written the way Flue's libSQL guide tells users to
 * write one: every call joins one promise chain, rows become plain objects from
 * `rows`/`columns`, and `transaction` wraps `client.transaction('write')`.
 *
 * Tests use it as the reference driver; benchmarks use it as "peer 1". Keep it faithful to
 * the guide. Two additions: the file pragmas, which a careful user sets too, and a `close`
 * that joins the chain, because the `Runner` contract has close wait for work in flight.
 */
import { createClient, type ResultSet } from '@libsql/client';
import type { Params, Row, Runner } from '../../lib/runner.js';

type Args = Parameters<ReturnType<typeof createClient>['execute']>[1];

const toRows = <R extends Row>(rs: ResultSet): R[] =>
  rs.rows.map((row) => Object.fromEntries(rs.columns.map((column) => [column, row[column]])) as R);

export function clientRunner(url: string): Runner {
  const client = createClient({ url });

  let tail: Promise<unknown> = Promise.resolve();
  const serialize = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = tail.then(operation, operation);
    tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };

  // The serialized chain keeps the client on a single pooled connection, so these
  // per-connection settings stay in force for every later call.
  if (url.startsWith('file:')) {
    void serialize(async () => {
      await client.execute('PRAGMA journal_mode=WAL');
      await client.execute('PRAGMA busy_timeout=5000');
      await client.execute('PRAGMA foreign_keys=ON');
    });
  }

  return {
    query: <R extends Row = Row>(text: string, params: Params = []) =>
      serialize(async () => toRows<R>(await client.execute({ sql: text, args: params as Args }))),
    transaction: (fn) =>
      serialize(async () => {
        const tx = await client.transaction('write');
        try {
          const result = await fn({
            query: async <R extends Row = Row>(text: string, params: Params = []) =>
              toRows<R>(await tx.execute({ sql: text, args: params as Args })),
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
