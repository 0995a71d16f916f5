//! The N-API surface: `openDatabase()` and the `NativeDatabase` class the JS layer wraps, and
//! the functions the JS layer registers itself with at load.
//!
//! Execution model: `executor.rs`.

use std::rc::Rc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::engine::{self, Migration, Op};
use crate::executor::{self, Executor};
use crate::js::args::{read_options, read_statement_list, sql_arg};
use crate::js::error::ToJsError;
use crate::js::primitives::RawValue;

#[napi]
pub struct NativeDatabase {
    /// Shared with the statement functions (`statement_functions`): each holds the executor
    /// until it is collected.
    executor: Rc<Executor>,
    kind: &'static str,
    busy_timeout_ms: u32,
}

/// A migration as the JS layer passes it.
#[napi(object)]
pub struct MigrationInput {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

/// Parses the options and opens the database; resolves to a `NativeDatabase`.
#[napi(ts_args_type = "options: object", ts_return_type = "Promise<NativeDatabase>")]
pub fn open_database(env: Env, options: Unknown) -> Result<RawValue> {
    let options = read_options(env.raw(), options.raw()).map_err(|e| e.into_napi(env.raw()))?;
    let kind = options.target.kind();
    let busy_timeout_ms = options.busy_timeout.as_millis().min(u32::MAX as u128) as u32;
    let promise = env.spawn_future_with_callback(async move { Ok(executor::open(options).await) }, move |env, opened| {
        let executor = Executor::new(opened.map_err(|e| e.into_napi(env.raw()))?);
        Ok(NativeDatabase { executor: Rc::new(executor), kind, busy_timeout_ms })
    })?;
    Ok(RawValue(promise.raw()))
}

/// Flue's built-in schema migrations (set `flue`), as embedded in the native module.
#[napi]
pub fn flue_migrations() -> Vec<MigrationInput> {
    engine::flue_migrations().into_iter().map(|m| MigrationInput { version: m.version, name: m.name, sql: m.sql }).collect()
}

/// Registers the JS functions results are built with (lib/results.ts; see `js/row_builder.rs`).
#[napi(
    ts_args_type = "compileRowBuilder: (columns: string[]) => (...args: never[]) => unknown, executeResult: (rowsAffected: number, lastInsertRowid: number | bigint) => unknown"
)]
pub fn register_result_builders(env: Env, compile_row_builder: Unknown, execute_result: Unknown) -> Result<()> {
    crate::js::row_builder::register_result_builders(env.raw(), compile_row_builder.raw(), execute_result.raw())
}

/// Registers the JS `LibsqlError` class that database errors are created as.
#[napi(ts_args_type = "errorClass: new (message: string, code: string, rawCode?: number) => Error")]
pub fn register_error_class(env: Env, class: Unknown) -> Result<()> {
    crate::js::error::register_error_class(env.raw(), class.raw())
}

#[napi]
impl NativeDatabase {
    /// `memory`, `file`, `remote` or `replica`.
    #[napi(getter, ts_return_type = "'memory' | 'file' | 'remote' | 'replica'")]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// How long the JS layer keeps retrying a statement that found the database locked.
    #[napi(getter)]
    pub fn busy_timeout_ms(&self) -> u32 {
        self.busy_timeout_ms
    }

    /// Whether a transaction is open on a local connection (a statement that failed inside one
    /// may have rolled it back). Always false for remote targets.
    #[napi(getter)]
    pub fn in_transaction(&self) -> bool {
        self.executor.in_transaction()
    }

    /// Whether results must wait for the sync their commits share (lib/database/shared-fsync.ts).
    #[napi(getter)]
    pub fn shares_fsyncs(&self) -> bool {
        self.executor.shares_fsyncs()
    }

    /// Whether separate transactions, and top-level calls beside them, run at once (a server's
    /// lanes, `executor/pool.rs`); elsewhere a transaction has the connection to itself.
    #[napi(getter)]
    pub fn overlaps_transactions(&self) -> bool {
        self.executor.overlaps_transactions()
    }

    /// True when operations return values directly instead of Promises.
    #[napi(getter)]
    pub fn runs_inline(&self) -> bool {
        self.executor.runs_inline()
    }

    /// `{ query, execute, begin, commit, rollback, awaitsFsync, fsyncCommits, sendHeld }`: the per-statement operations as plain
    /// functions bound to this connection. They are called for every statement, so they skip
    /// what a class method costs on each call (unwrapping `this`, checking its type tag,
    /// tracking the borrow: together about as much as a point query's row building).
    ///
    /// Here and below, an operation returns its value where `runsInline`, else a Promise of it.
    #[napi(
        ts_return_type = "{ query<R = Record<string, unknown>>(sql: string, params?: unknown, transaction?: number): R[] | Promise<R[]>; execute(sql: string, params?: unknown, transaction?: number): { rowsAffected: number; lastInsertRowid: number | bigint } | Promise<{ rowsAffected: number; lastInsertRowid: number | bigint }>; begin(transaction?: number): void | Promise<void>; commit(transaction?: number): void | Promise<void>; rollback(transaction?: number): void | Promise<void>; awaitsFsync(): boolean; fsyncCommits(): void; sendHeld(): void }"
    )]
    pub fn statement_functions(&self, env: Env) -> Result<RawValue> {
        unsafe { super::statement_functions::create(env.raw(), &self.executor) }.map(RawValue)
    }

    /// `statements`: an array of `[sql, params?]` pairs (the JS layer normalizes the forms).
    #[napi(
        ts_generic_types = "R = Record<string, unknown>",
        ts_args_type = "statements: Array<[string, unknown?]>",
        ts_return_type = "Array<{ rows: R[]; rowsAffected: number; lastInsertRowid: number | bigint }> | Promise<Array<{ rows: R[]; rowsAffected: number; lastInsertRowid: number | bigint }>>"
    )]
    pub fn batch(&self, env: Env, statements: Unknown) -> Result<RawValue> {
        let op = unsafe { read_statement_list(env.raw(), statements.raw()) }.map(Op::Batch);
        self.executor.dispatch(&env, op, None)
    }

    #[napi(ts_args_type = "sql: string", ts_return_type = "void | Promise<void>")]
    pub fn exec(&self, env: Env, sql: Unknown) -> Result<RawValue> {
        let op = sql_arg(&env, sql).map(Op::Exec);
        self.executor.dispatch(&env, op, None)
    }

    #[napi(
        ts_return_type = "{ set: string; applied: Array<{ version: number; name: string }>; version: number } | Promise<{ set: string; applied: Array<{ version: number; name: string }>; version: number }>"
    )]
    pub fn migrate(&self, env: Env, set: String, migrations: Vec<MigrationInput>, flue_format: bool) -> Result<RawValue> {
        let migrations =
            migrations.into_iter().map(|m| Migration::new(m.version, &m.name, &m.sql)).collect();
        self.executor.dispatch(&env, Ok(Op::Migrate { set, migrations, flue_format }), None)
    }

    #[napi(ts_return_type = "{ frameNo: number | null; framesSynced: number } | Promise<{ frameNo: number | null; framesSynced: number }>")]
    pub fn sync(&self, env: Env) -> Result<RawValue> {
        self.executor.dispatch(&env, Ok(Op::Sync), None)
    }

    /// Closes the connection; idempotent. Remote: waits for the operation in flight.
    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn close(&self, env: Env) -> Result<RawValue> {
        self.executor.close(&env)
    }
}


/// The runner's own error codes (src/error.rs, `ErrorCode::RUNNER`): __test__/repo/error-codes.test.ts
/// checks them against lib/errors.ts and docs/api.md.
#[napi]
pub fn runner_error_codes() -> Vec<String> {
    crate::error::ErrorCode::RUNNER.iter().map(|code| code.as_str().to_owned()).collect()
}
