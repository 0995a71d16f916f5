/**
 * Commits that share one fsync (local files at durability 'full'; src/engine/local/shared_fsync.rs).
 *
 * The native connection commits without syncing and counts what it committed. A result that
 * comes back while a commit is unsynced — the commit's own, or a read that may have seen it —
 * is held here, and everything held is released by one sync of the WAL at the end of the
 * event-loop turn (`setImmediate`): all the work of that turn, from any number of concurrent
 * callers, shares that sync. Nothing is acknowledged before it is on disk.
 *
 * Work awaited one statement at a time has nothing to share a sync with. While the last shared
 * sync released no more than one result, a commit with nothing held beside it is synced at
 * once, as inside a commit at `synchronous=FULL`, without waiting for the end of the turn — up
 * to `ALONE_PER_TURN` times in one turn. Past that the commit is held: if callers are in fact
 * concurrent, that turn's sync releases several results, and syncs are shared from then on,
 * until one releases a single result again; if not, one commit in `ALONE_PER_TURN` waits for
 * the end of a turn, and the event loop gets its turn too.
 *
 * Inside a transaction callback, `tx` results are not held: the callback may see an earlier
 * transaction's commit before its sync, but its own transaction resolves only after a later
 * sync, which covers both (the WAL is synced in order).
 */
import type { StatementFunctions } from './transaction.js';

/** Commits synced at once in one event-loop turn, at most (see above). */
const ALONE_PER_TURN = 16;

/** The most results held at once: a long burst that never yields syncs as it goes. */
const HELD_LIMIT = 1000;

/** Its functions are declared as methods (whose parameters TypeScript compares both ways): results of every type wait in one list. */
interface Held<T> {
  value: T;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class SharedFsync {
  readonly #connection: StatementFunctions;
  #held: Held<unknown>[] = [];
  #scheduled = false;
  /** Results the last shared sync released: more than one means concurrent callers. */
  #lastReleased = 0;
  /** Commits synced at once in this event-loop turn. */
  #syncedAlone = 0;

  constructor(connection: StatementFunctions) {
    this.#connection = connection;
  }

  /**
   * `value` itself when nothing is unsynced (or once synced at once), else a promise of it
   * once the turn's sync has made it durable. Throws when a sync made at once fails.
   */
  after<T>(value: T): T | Promise<T> {
    if (this.#releasedNow()) return value;
    return new Promise<T>((resolve, reject) => this.#hold(value, resolve, reject));
  }

  /**
   * `resolve(value)` at once when nothing is unsynced (or once synced at once), else once the
   * turn's sync has made it durable; `reject(error)` when that sync fails. No promise of its
   * own: a burst of results held this way keeps nothing alive once released.
   */
  release<T>(value: T, resolve: (value: T) => void, reject: (error: unknown) => void): void {
    let now: boolean;
    try {
      now = this.#releasedNow();
    } catch (error) {
      return reject(error);
    }
    if (now) resolve(value);
    else this.#hold(value, resolve, reject);
  }

  /** Whether a result can be given back now: nothing unsynced, or a sync made at once (which may throw). */
  #releasedNow(): boolean {
    if (!this.#connection.awaitsFsync()) return true;
    if (this.#held.length > 0 || this.#lastReleased > 1 || this.#syncedAlone >= ALONE_PER_TURN) return false;
    this.#connection.fsyncCommits();
    if (this.#syncedAlone++ === 0) setImmediate(this.#endTurn);
    return true;
  }

  #hold<T>(value: T, resolve: (value: T) => void, reject: (error: unknown) => void): void {
    this.#held.push({ value, resolve, reject });
    if (this.#held.length >= HELD_LIMIT) this.#syncNow();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#syncNow);
    }
  }

  readonly #endTurn = (): void => {
    this.#syncedAlone = 0;
  };

  /** Syncs and releases what is held now (also before the connection closes). */
  readonly #syncNow = (): void => {
    this.#scheduled = false;
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    this.#lastReleased = held.length;
    try {
      this.#connection.fsyncCommits();
    } catch (error) {
      // Written but maybe not durable: nothing held is acknowledged.
      for (const { reject } of held) reject(error);
      return;
    }
    for (const { value, resolve } of held) resolve(value);
  };

  /** Releases what is held at once, without waiting for the end of the turn. */
  flush(): void {
    this.#syncNow();
  }
}
