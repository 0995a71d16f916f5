/**
 * Compile-time checks (`npm run typecheck`; never executed): the package's public types, as a
 * db.ts sees them through `dist/`, fit Flue's adapter contract. A failure here is a tsc error.
 */
import type { PersistenceAdapter, PersistenceStores } from '@flue/runtime/adapter';
import { start, type StartOptions } from '@flue/runtime/node';
import {
  libsql,
  open,
  type Database,
  type LibsqlAdapter,
  type LibsqlAdapterOptions,
  type QueryRunner,
  type Runner,
} from '../../dist/index.js';
import { libsql as libsqlFromSource, type LibsqlAdapter as SourceLibsqlAdapter } from '../../lib/index.js';
import { clientRunner } from '../../scripts/libsql-client-runner.mjs';

type Assert<T extends true> = T;
type IsAssignable<From, To> = [From] extends [To] ? true : false;

// The return type is a PersistenceAdapter, declared and checked both ways a db.ts writes it.
export const annotated: PersistenceAdapter = libsql({ url: 'file:.flue/flue.db' });
export const satisfied = libsql({ url: ':memory:', authToken: 't', durability: 'normal' }) satisfies PersistenceAdapter;
export const fromEnvironment = libsql() satisfies PersistenceAdapter;
export const overClient = libsql(clientRunner('file:x.db')) satisfies PersistenceAdapter;
export const fromSource: PersistenceAdapter = libsqlFromSource({ url: ':memory:' });

export type AdapterFits = Assert<IsAssignable<LibsqlAdapter, PersistenceAdapter>>;
export type SourceAdapterFits = Assert<IsAssignable<SourceLibsqlAdapter, PersistenceAdapter>>;
// Unlike Flue's optional members, ours are always there: callers need no `?.`.
export type MigrateIsRequired = Assert<IsAssignable<LibsqlAdapter['migrate'], () => Promise<void>>>;
export type CloseIsRequired = Assert<IsAssignable<LibsqlAdapter['close'], () => Promise<void>>>;
export type ConnectGivesStores = Assert<IsAssignable<ReturnType<LibsqlAdapter['connect']>, Promise<PersistenceStores>>>;

// What start() takes.
export const startOptions: StartOptions = { agents: [], db: libsql({ url: ':memory:' }) };
export const starting = () => start({ agents: [], db: libsql() });

// Our Database is a Runner, so it can be handed to libsql() (and to anything written for the seam).
export type DatabaseIsRunner = Assert<IsAssignable<Database, Runner>>;
export async function handOver(): Promise<PersistenceAdapter> {
  const db = await open(':memory:');
  const runner: Runner = db;
  const reader: QueryRunner = db;
  void reader;
  return libsql(runner);
}

// Mistakes a db.ts could make are type errors.
// @ts-expect-error url must be a string
libsql({ url: 42 });
// @ts-expect-error durability is 'full' | 'normal'
libsql({ url: ':memory:', durability: 'fast' });
// @ts-expect-error unknown option
libsql({ url: ':memory:', bogus: true });
// @ts-expect-error a runner needs close()
libsql({ query: async () => [], transaction: async () => undefined });

export type OptionsArePartial = Assert<IsAssignable<{}, LibsqlAdapterOptions>>;
