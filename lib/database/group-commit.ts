/**
 * Group commit (local targets). Statements called in the same turn of the microtask queue (a
 * burst of concurrent requests: `Promise.all`, many handlers at once) share one write
 * transaction and one commit — one fsync for all of them instead of one each. The first
 * statement of a turn runs on its own (autocommit), as do all statements of code that awaits
 * each one: only a second statement in the same turn opens a group. Each statement still
 * resolves only once it is committed, in call order; one that fails is rolled back alone by
 * SQLite and rejects alone. If the group's transaction itself is lost (a statement error that
 * rolls back the whole transaction, or a failed COMMIT), its statements run again one by one
 * on their own — nothing of them was visible or acknowledged — so every statement ends as it
 * would have without the group.
 */
import type { NativeDatabase } from '../native.js';
import type { SharedFsync } from './shared-fsync.js';
import type { StatementFunctions } from './transaction.js';

/** The most statements one group holds: a long burst that never yields commits as it goes. */
const GROUP_LIMIT = 1000;

/**
 * Statements that must not run inside a group's transaction: SQLite ignores some pragmas
 * there (`foreign_keys`) and refuses others (`journal_mode`), as it refuses VACUUM, ATTACH and
 * DETACH; and savepoints belong to the application's own transaction, not to a group's.
 */
const RUNS_ALONE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(?:PRAGMA|VACUUM|ATTACH|DETACH|SAVEPOINT|RELEASE|ROLLBACK)\b/i;

export function mustRunAlone(sql: string): boolean {
  return typeof sql !== 'string' || RUNS_ALONE.test(sql);
}

/**
 * A statement waiting for its group's COMMIT: it resolves to its result (once durable), or,
 * when the group is lost, to the outcome of running it again; it rejects only when its
 * commit could not be made durable. Its functions are declared as methods (whose parameters
 * TypeScript compares both ways): statements of every result type wait in one group.
 */
interface GroupMember<T> {
  call(): T;
  result: T;
  resolve(value: T | Promise<T>): void;
  reject(error: unknown): void;
}

/** Runs a statement on its own, as the connection would without groups (the inline scheduler's way). */
export type RunAlone = <T>(call: () => T) => Promise<Awaited<T>>;

const RESOLVED = Promise.resolve();

export class GroupCommit {
  #members: GroupMember<unknown>[] | null = null;
  readonly #native: NativeDatabase;
  readonly #statements: StatementFunctions;
  /** Local files at durability 'full': committed results wait for their sync. */
  readonly #sharedFsync: SharedFsync | null;
  readonly #runAlone: RunAlone;

  constructor(native: NativeDatabase, statements: StatementFunctions, sharedFsync: SharedFsync | null, runAlone: RunAlone) {
    this.#native = native;
    this.#statements = statements;
    this.#sharedFsync = sharedFsync;
    this.#runAlone = runAlone;
  }

  get open(): boolean {
    return this.#members !== null;
  }

  /** Runs `call` inside the open group, opening one if needed; settles once committed. */
  join<T>(call: () => T): Promise<Awaited<T>> {
    if (this.#members === null) {
      // A transaction the application opened with SAVEPOINT: statements run inside it, as before.
      if (this.#native.inTransaction) return this.#runAlone(call);
      try {
        this.#statements.begin();
      } catch {
        // No group: another connection holds the write lock, or this one cannot write (a
        // read-only file, `PRAGMA query_only`). The statement runs on its own, as it would
        // have without groups, and ends in its own result or error.
        return this.#runAlone(call);
      }
      this.#members = [];
      RESOLVED.then(this.#commitLater);
    }
    let result: T;
    try {
      result = call();
    } catch (error) {
      if (!this.#native.inTransaction) this.#replay();
      return Promise.reject(error);
    }
    const members = this.#members;
    const committed = new Promise<Awaited<T>>((resolve, reject) => members.push({ call, result, resolve, reject }));
    if (members.length >= GROUP_LIMIT) this.commit();
    return committed;
  }

  readonly #commitLater = (): void => this.commit();

  /** Commits the open group, settling its statements; a no-op when none is open. */
  commit(): void {
    const members = this.#members;
    if (members === null) return;
    try {
      this.#statements.commit();
    } catch {
      // The native COMMIT rolled back what it could not commit.
      this.#replay();
      return;
    }
    this.#members = null;
    const sharedFsync = this.#sharedFsync;
    for (const member of members) {
      if (sharedFsync) sharedFsync.release(member.result, member.resolve, member.reject);
      else member.resolve(member.result);
    }
  }

  /** The group's transaction is gone: its statements run again, each on its own. */
  #replay(): void {
    const members = this.#members ?? [];
    this.#members = null;
    if (this.#native.inTransaction) this.#statements.rollback();
    for (const member of members) member.resolve(this.#runAlone(member.call));
  }
}
