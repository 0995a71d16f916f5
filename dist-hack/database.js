/**
 * `open()` and `Database`: the promise-level runner over the native connection.
 *
 * Statements execute in Rust (on the JS thread for local targets, on the async runtime for
 * remote ones); this file only orders the calls. The rule it keeps: while a transaction is
 * open, top-level calls wait for it (first come, first served) and never run inside it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LibsqlError } from './errors.js';
import { native } from './load-native.js';
import { compileRowBuilder } from './rows.js';
native.registerErrorClass(LibsqlError);
native.registerRowBuilderCompiler(compileRowBuilder);
/** The transaction whose callback is running, to catch calls that would wait on themselves. */
const currentTransaction = new AsyncLocalStorage();
/** Opens a database; see `OpenOptions` for the targets. */
export async function open(urlOrOptions) {
    const options = typeof urlOrOptions === 'string' ? { url: urlOrOptions } : urlOrOptions;
    if (options === null || typeof options !== 'object') {
        throw new TypeError('open() takes a url string or an options object');
    }
    return new Database(await native.openDatabase(options), openToken);
}
const openToken = Symbol('open');
export class Database {
    #native;
    /** Local targets return results directly; remote ones return promises. */
    #inline;
    #busyTimeoutMs;
    /** Held by a transaction (or close, or a call waiting for another connection's lock); top-level calls queue behind it while set. */
    #locked = false;
    #waiters = [];
    #active = null;
    #closing = null;
    /** @internal use `open()`. */
    constructor(nativeDatabase, token) {
        if (token !== openToken)
            throw new TypeError('use open() to create a Database');
        this.#native = nativeDatabase;
        this.#inline = nativeDatabase.runsInline;
        this.#busyTimeoutMs = nativeDatabase.busyTimeoutMs;
    }
    /** `memory`, `file`, `remote` or `replica`. */
    get kind() {
        return this.#native.kind;
    }
    get closed() {
        return this.#closing !== null;
    }
    /** Runs one statement and resolves to its rows as plain objects. */
    query(sql, params) {
        if (this.#locked || this.#closing)
            return this.#later('query', () => this.#native.query(sql, params));
        return this.#now(() => this.#native.query(sql, params));
    }
    /** Runs one statement and resolves to what it changed. */
    execute(sql, params) {
        if (this.#locked || this.#closing)
            return this.#later('execute', () => this.#native.execute(sql, params));
        return this.#now(() => this.#native.execute(sql, params));
    }
    /** Runs statements in one transaction: all of them, or (on the first error) none. */
    batch(statements) {
        let pairs;
        try {
            pairs = normalizeBatch(statements);
        }
        catch (error) {
            return Promise.reject(error);
        }
        return this.#gated('batch', () => this.#native.batch(pairs));
    }
    /** Runs a script of statements without parameters (DDL, seed data). */
    exec(sql) {
        return this.#gated('exec', () => this.#native.exec(sql));
    }
    /**
     * Applies pending migrations of `set` (default `'app'`) in one transaction; see docs/api.md.
     * Refuses a changed or unknown recorded migration without changing anything.
     */
    migrate(migrations, options = {}) {
        const set = options.set ?? 'app';
        return this.#gated('migrate', () => this.#native.migrate(set, checkMigrations(migrations), false));
    }
    /** @internal Flue's built-in schema with its format stamp (used by the adapter). */
    migrateFlueSchema() {
        return this.#gated('migrate', () => this.#native.migrate('flue', native.flueMigrations(), true));
    }
    /** Embedded replicas: pull the primary's new frames now. Other targets: a no-op. */
    sync() {
        return this.#gated('sync', () => this.#native.sync());
    }
    /**
     * Runs `fn(tx)` inside one write transaction (`BEGIN IMMEDIATE`): commits when it returns
     * or resolves, rolls back when it throws or rejects, and resolves to its value.
     */
    async transaction(fn) {
        if (typeof fn !== 'function')
            throw new TypeError('transaction() takes a function (tx) => …');
        this.#refuseInsideOwnTransaction('transaction');
        if (this.#closing)
            throw closedError();
        await this.#acquire();
        const handle = new TransactionHandle(this.#native, this.#inline);
        this.#active = handle;
        try {
            await this.#whileLocked(() => this.#native.begin());
            let result;
            try {
                result = await fn(handle.tx);
            }
            catch (error) {
                handle.end();
                await this.#rollbackQuietly();
                throw error;
            }
            handle.end();
            await this.#native.commit();
            return result;
        }
        finally {
            handle.end();
            this.#active = null;
            this.#release();
        }
    }
    /** Closes the connection after the work already queued; idempotent. */
    close() {
        this.#closing ??= (async () => {
            await this.#acquire();
            await this.#native.close();
            // The lock stays held: nothing runs after close.
        })();
        return this.#closing;
    }
    // ---- ordering ----------------------------------------------------------------------
    /** Runs a native call now; a thrown error becomes a rejection. */
    #now(call) {
        try {
            return settle(call(), this.#inline);
        }
        catch (error) {
            // Another connection holds the write lock. Take the gate first, so that calls made
            // after this one keep waiting behind it, then wait for the lock with timers.
            if (isBusy(error))
                return this.#later('query', call);
            return Promise.reject(error);
        }
    }
    /** A call that must wait for the transaction (or close) holding the connection. */
    async #later(what, call) {
        this.#refuseInsideOwnTransaction(what);
        if (this.#closing)
            throw closedError();
        await this.#acquire();
        try {
            return (await this.#whileLocked(call));
        }
        finally {
            this.#release();
        }
    }
    /**
     * Runs `call`, retrying while another connection (in this process or another) holds the
     * database lock, for up to `busyTimeout`. Local connections report a lock at once instead
     * of sleeping on the JS thread (see src/session.rs), so the event loop — and the other
     * connection's transaction — keeps running while this one waits. Retrying is safe: a
     * statement refused with SQLITE_BUSY, or a refused BEGIN, changed nothing.
     */
    async #whileLocked(call) {
        if (!this.#inline)
            return call();
        const deadline = Date.now() + this.#busyTimeoutMs;
        for (let delay = 1;; delay = Math.min(delay * 2, 25)) {
            try {
                return call();
            }
            catch (error) {
                if (!isBusy(error) || Date.now() >= deadline)
                    throw error;
            }
            await new Promise((resolve) => setTimeout(resolve, delay));
        }
    }
    #gated(what, call) {
        if (this.#locked || this.#closing)
            return this.#later(what, call);
        return this.#now(call);
    }
    #acquire() {
        if (!this.#locked) {
            this.#locked = true;
            return;
        }
        return new Promise((resolve) => this.#waiters.push(resolve));
    }
    #release() {
        const next = this.#waiters.shift();
        if (next)
            next();
        else
            this.#locked = false;
    }
    /** Waiting on the outer database from inside its own transaction callback would deadlock. */
    #refuseInsideOwnTransaction(what) {
        const inside = currentTransaction.getStore();
        if (inside !== undefined && inside === this.#active) {
            throw new LibsqlError(`db.${what}() was called inside this database's transaction callback, where it would wait for the ` +
                `transaction to end; use the callback's tx.query() / tx.execute() instead`, 'TRANSACTION_STATE');
        }
    }
    async #rollbackQuietly() {
        try {
            await this.#native.rollback();
        }
        catch {
            // The callback's error is the one worth reporting; a failed rollback leaves SQLite
            // rolling back on its own (the connection stays usable, checked by the next BEGIN).
        }
    }
}
/** The `tx` a transaction callback receives; dead once the transaction ends. */
class TransactionHandle {
    #open = true;
    tx;
    constructor(nativeDatabase, inline) {
        const run = (call) => {
            if (!this.#open) {
                return Promise.reject(new LibsqlError('this transaction has already committed or rolled back; its tx can no longer run statements', 'TRANSACTION_CLOSED'));
            }
            try {
                return settle(call(), inline);
            }
            catch (error) {
                return Promise.reject(error);
            }
        };
        this.tx = {
            query: (sql, params) => run(() => nativeDatabase.query(sql, params)),
            execute: (sql, params) => run(() => nativeDatabase.execute(sql, params)),
        };
    }
    end() {
        this.#open = false;
    }
}
/** A native result as a promise: inline (local) calls return the value itself, remote ones a promise of it. */
function settle(result, inline) {
    return inline ? Promise.resolve(result) : result;
}
function isBusy(error) {
    return error instanceof LibsqlError && error.rawCode !== undefined && (error.rawCode & 0xff) === 5;
}
function closedError() {
    return new LibsqlError('the database is closed', 'CLIENT_CLOSED');
}
function normalizeBatch(statements) {
    if (!Array.isArray(statements)) {
        throw new TypeError('batch() takes an array of statements: strings, { sql, params } or [sql, params]');
    }
    return statements.map((statement, index) => {
        if (typeof statement === 'string')
            return [statement];
        if (Array.isArray(statement))
            return [statement[0], statement[1]];
        if (statement !== null && typeof statement === 'object' && 'sql' in statement)
            return [statement.sql, statement.params];
        throw new TypeError(`batch statement ${index + 1} is not a string, { sql, params } or [sql, params]`);
    });
}
function checkMigrations(migrations) {
    if (!Array.isArray(migrations))
        throw new TypeError('migrate() takes an array of { version, name, sql }');
    return migrations.map((migration, index) => {
        const { version, name, sql } = (migration ?? {});
        if (!Number.isSafeInteger(version) || typeof name !== 'string' || typeof sql !== 'string') {
            throw new TypeError(`migration ${index + 1} must be { version: integer, name: string, sql: string }`);
        }
        return { version: version, name, sql };
    });
}
