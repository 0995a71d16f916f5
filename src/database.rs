//! The N-API surface: `openDatabase()` and the `NativeDatabase` class the JS layer wraps.
//!
//! Execution model (measured; see README "Execution model"):
//! * local targets (`:memory:`, files) run each operation to completion on the JS thread and
//!   return its value directly. A point query costs a few microseconds, while a hop to a
//!   worker thread and back costs tens; the event loop is blocked only for the statement
//!   itself, exactly as with better-sqlite3.
//! * remote targets and replicas run on the tokio runtime and return a Promise. Each
//!   connection has one worker task that owns the session; calls are queued to it on the JS
//!   thread, so they run one at a time in exactly the order they were made.
//!
//! No Rust panic reaches Node: every operation runs under `catch_unwind` and a panic becomes a
//! `LibsqlError` with code `INTERNAL`.

use std::panic::AssertUnwindSafe;
use std::ptr;

use futures::FutureExt;
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::RefCell;
use std::rc::Rc;

use tokio::sync::{mpsc, oneshot};

use crate::error::{DbError, DbResult};
use crate::migrate::Migration;
use crate::options::{OpenOptions, OptionValue};
use crate::output::{JsRows, RawValue};
use crate::session::{Op, Output, Session};
use crate::value::{params_from_js, read_string, read_well_formed_string, BoundParams};

#[napi]
pub struct NativeDatabase {
    /// Shared with the statement functions (`statement_functions`), which outlive nothing:
    /// each holds the connection until it is collected.
    connection: Rc<Connection>,
    kind: &'static str,
    busy_timeout_ms: u32,
}

/// Where operations run. `None` inside once closed.
pub(crate) enum Connection {
    /// Local: the session itself, used on the JS thread.
    Inline(RefCell<Option<Session>>),
    /// Remote: the queue of the worker task that owns the session.
    Worker(RefCell<Option<mpsc::UnboundedSender<Job>>>),
}

pub(crate) enum Job {
    Run(Op, oneshot::Sender<DbResult<Output>>),
    Close(oneshot::Sender<()>),
}

/// Owns a remote session and runs its jobs in arrival order until closed.
async fn work(mut session: Session, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Run(op, reply) => {
                let _ = reply.send(guarded(session.run(op)).await);
            }
            Job::Close(reply) => {
                drop(session);
                let _ = reply.send(());
                return;
            }
        }
    }
}

/// A migration as the JS layer passes it.
#[napi(object)]
pub struct MigrationInput {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

/// Parses the options and opens the database; resolves to a `NativeDatabase`.
#[napi(ts_args_type = "options: Record<string, unknown>", ts_return_type = "Promise<NativeDatabase>")]
pub fn open_database(env: Env, options: Unknown) -> Result<RawValue> {
    let options = read_options(env.raw(), options.raw()).map_err(|e| e.into_napi(env.raw()))?;
    let kind = options.target.kind();
    let busy_timeout_ms = options.busy_timeout.as_millis().min(u32::MAX as u128) as u32;
    let promise = env.spawn_future_with_callback(
        async move {
            Ok(guarded(async move {
                let session = Session::open(&options).await?;
                if session.target().is_local() {
                    return Ok(Opened::Inline(session));
                }
                let (queue, jobs) = mpsc::unbounded_channel();
                tokio::spawn(work(session, jobs));
                Ok(Opened::Worker(queue))
            })
            .await)
        },
        move |env, opened| {
            let connection = match opened.map_err(|e| e.into_napi(env.raw()))? {
                Opened::Inline(session) => Connection::Inline(RefCell::new(Some(session))),
                Opened::Worker(queue) => Connection::Worker(RefCell::new(Some(queue))),
            };
            Ok(NativeDatabase { connection: Rc::new(connection), kind, busy_timeout_ms })
        },
    )?;
    Ok(RawValue(promise.raw()))
}

/// Flue's built-in schema migrations (set `flue`), as embedded in the native module.
#[napi]
pub fn flue_migrations() -> Vec<MigrationInput> {
    crate::migrate::FLUE_MIGRATIONS
        .iter()
        .map(|(version, name, sql)| MigrationInput { version: *version, name: (*name).into(), sql: (*sql).into() })
        .collect()
}

enum Opened {
    Inline(Session),
    Worker(mpsc::UnboundedSender<Job>),
}

/// Registers the JS functions results are built with (lib/results.ts; see `output.rs`).
#[napi(
    ts_args_type = "compileRowBuilder: (columns: string[]) => (...args: never[]) => unknown, executeResult: (rowsAffected: number, lastInsertRowid: number | bigint) => unknown"
)]
pub fn register_result_builders(env: Env, compile_row_builder: Unknown, execute_result: Unknown) -> Result<()> {
    crate::output::register_result_builders(env.raw(), compile_row_builder.raw(), execute_result.raw())
}

/// Registers the JS `LibsqlError` class that database errors are created as.
#[napi(ts_args_type = "errorClass: new (message: string, code: string, rawCode?: number) => Error")]
pub fn register_error_class(env: Env, class: Unknown) -> Result<()> {
    crate::error::register_error_class(env.raw(), class.raw())
}

#[napi]
impl NativeDatabase {
    /// `memory`, `file`, `remote` or `replica`.
    #[napi(getter)]
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
        match &*self.connection {
            Connection::Inline(slot) => slot.try_borrow().ok().is_some_and(|session| session.as_ref().is_some_and(Session::in_transaction)),
            Connection::Worker(_) => false,
        }
    }

    /// True when operations return values directly instead of Promises.
    #[napi(getter)]
    pub fn runs_inline(&self) -> bool {
        matches!(*self.connection, Connection::Inline(_))
    }

    /// `{ query, execute, begin, commit, rollback }`: the per-statement operations as plain
    /// functions bound to this connection. They are called for every statement, so they skip
    /// what a class method costs on each call (unwrapping `this`, checking its type tag,
    /// tracking the borrow: together about as much as a point query's row building).
    #[napi(
        ts_return_type = "{ query(sql: string, params?: unknown): unknown; execute(sql: string, params?: unknown): unknown; begin(): unknown; commit(): unknown; rollback(): unknown }"
    )]
    pub fn statement_functions(&self, env: Env) -> Result<RawValue> {
        unsafe { crate::statement_functions::create(env.raw(), &self.connection) }.map(RawValue)
    }

    /// `statements`: an array of `[sql, params?]` pairs (the JS layer normalizes the forms).
    #[napi(ts_args_type = "statements: Array<[string, unknown?]>", ts_return_type = "unknown")]
    pub fn batch(&self, env: Env, statements: Unknown) -> Result<RawValue> {
        let op = unsafe { read_statement_list(env.raw(), statements.raw()) }.map(Op::Batch);
        self.connection.dispatch(&env, op)
    }

    #[napi(ts_args_type = "sql: string", ts_return_type = "unknown")]
    pub fn exec(&self, env: Env, sql: Unknown) -> Result<RawValue> {
        let op = sql_arg(&env, sql).map(Op::Exec);
        self.connection.dispatch(&env, op)
    }

    #[napi(ts_return_type = "unknown")]
    pub fn migrate(&self, env: Env, set: String, migrations: Vec<MigrationInput>, flue_format: bool) -> Result<RawValue> {
        let migrations =
            migrations.into_iter().map(|m| Migration { version: m.version, name: m.name, sql: m.sql }).collect();
        self.connection.dispatch(&env, Ok(Op::Migrate { set, migrations, flue_format }))
    }

    #[napi(ts_return_type = "unknown")]
    pub fn sync(&self, env: Env) -> Result<RawValue> {
        self.connection.dispatch(&env, Ok(Op::Sync))
    }

    /// Closes the connection; idempotent. Remote: waits for the operation in flight.
    #[napi(ts_return_type = "unknown")]
    pub fn close(&self, env: Env) -> Result<RawValue> {
        match &*self.connection {
            Connection::Inline(slot) => {
                drop(slot.borrow_mut().take());
                unsafe { crate::output::undefined(env.raw()) }.map(RawValue)
            }
            Connection::Worker(slot) => {
                let (reply, closed) = oneshot::channel();
                // Queued behind every call made before it; a second close finds no queue.
                if let Some(queue) = slot.borrow_mut().take() {
                    let _ = queue.send(Job::Close(reply));
                }
                let promise = env.spawn_future(async move {
                    let _ = closed.await;
                    Ok(())
                })?;
                Ok(RawValue(promise.raw()))
            }
        }
    }
}

impl Connection {
    /// Runs `op`: inline, returning its value, or queued to the worker, returning a Promise.
    pub(crate) fn dispatch(&self, env: &Env, op: DbResult<Op>) -> Result<RawValue> {
        let op = op.map_err(|e| e.into_napi(env.raw()))?;
        match self {
            Connection::Inline(slot) => {
                if let Op::Query { sql, params } = op {
                    return query_inline(slot, env, &sql, params).map_err(|e| e.into_napi(env.raw()));
                }
                let output = run_inline(slot, op).map_err(|e| e.into_napi(env.raw()))?;
                Ok(RawValue(unsafe { Output::to_napi_value(env.raw(), output)? }))
            }
            Connection::Worker(slot) => {
                let (reply, result) = oneshot::channel();
                let queued = slot.borrow().as_ref().is_some_and(|queue| queue.send(Job::Run(op, reply)).is_ok());
                let promise = env.spawn_future_with_callback(
                    async move {
                        Ok(match queued {
                            true => result.await.unwrap_or_else(|_| Err(DbError::closed())),
                            false => Err(DbError::closed()),
                        })
                    },
                    |env, result| result.map_err(|e| e.into_napi(env.raw())),
                )?;
                Ok(RawValue(promise.raw()))
            }
        }
    }
}

/// The hot path: a local `query()` writes rows straight from SQLite's buffers into JS objects.
fn query_inline(slot: &RefCell<Option<Session>>, env: &Env, sql: &str, params: BoundParams) -> DbResult<RawValue> {
    let mut slot = slot
        .try_borrow_mut()
        .map_err(|_| DbError::libsql("INTERNAL", "the connection is busy with another operation"))?;
    let session = slot.as_mut().ok_or_else(DbError::closed)?;
    let mut rows = unsafe { JsRows::new(env.raw()) }.map_err(|e| DbError::libsql("INTERNAL", e.to_string()))?;
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| session.query_local(sql, params, &mut rows)))
        .unwrap_or_else(|panic| Some(Err(panic_error(panic))));
    match ran {
        Some(result) => {
            result?;
            unsafe { rows.into_value() }.map(RawValue).map_err(|e| DbError::libsql("INTERNAL", e.to_string()))
        }
        None => Err(DbError::libsql("INTERNAL", "query_inline called for a remote target")),
    }
}

/// Local operations never wait: their futures complete on the first poll (the `async` is for
/// the remote engine), so one poll runs them, with no executor around it.
fn run_inline(slot: &RefCell<Option<Session>>, op: Op) -> DbResult<Output> {
    let mut slot = slot
        .try_borrow_mut()
        .map_err(|_| DbError::libsql("INTERNAL", "the connection is busy with another operation"))?;
    let session = slot.as_mut().ok_or_else(DbError::closed)?;
    let operation = std::pin::pin!(guarded(session.run(op)));
    match std::future::Future::poll(operation, &mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(DbError::libsql("INTERNAL", "a local operation did not complete at once")),
    }
}

/// Runs a future, turning a panic inside it into an `INTERNAL` error.
async fn guarded<T>(future: impl std::future::Future<Output = DbResult<T>>) -> DbResult<T> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panic_error(panic)),
    }
}

pub(crate) fn panic_error(panic: Box<dyn std::any::Any + Send>) -> DbError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    DbError::libsql("INTERNAL", format!("internal error in flue-libsql (please report): {what}"))
}

pub(crate) fn statement_args(env: &Env, sql: Unknown, params: Option<Unknown>) -> DbResult<(String, BoundParams)> {
    let sql = sql_arg(env, sql)?;
    let params = match params {
        Some(params) => unsafe { params_from_js(env.raw(), params.raw())? },
        None => BoundParams::None,
    };
    Ok((sql, params))
}

fn sql_arg(env: &Env, sql: Unknown) -> DbResult<String> {
    if sql.get_type().ok() != Some(ValueType::String) {
        return Err(DbError::type_error("sql must be a string"));
    }
    unsafe { read_well_formed_string(env.raw(), sql.raw(), &"the SQL text") }
}

unsafe fn read_statement_list(env: sys::napi_env, list: sys::napi_value) -> DbResult<Vec<(String, BoundParams)>> {
    let fail = || DbError::type_error("batch() takes an array of statements: strings, { sql, params } or [sql, params]");
    let mut is_array = false;
    if sys::napi_is_array(env, list, &mut is_array) != sys::Status::napi_ok || !is_array {
        return Err(fail());
    }
    let mut length = 0;
    sys::napi_get_array_length(env, list, &mut length);
    let mut statements = Vec::with_capacity(length as usize);
    for index in 0..length {
        let mut pair = ptr::null_mut();
        let mut sql = ptr::null_mut();
        let mut params = ptr::null_mut();
        if sys::napi_get_element(env, list, index, &mut pair) != sys::Status::napi_ok
            || sys::napi_get_element(env, pair, 0, &mut sql) != sys::Status::napi_ok
            || sys::napi_get_element(env, pair, 1, &mut params) != sys::Status::napi_ok
        {
            return Err(fail());
        }
        let mut kind = 0;
        sys::napi_typeof(env, sql, &mut kind);
        if kind != sys::ValueType::napi_string {
            return Err(DbError::type_error(format!("batch statement {} has no sql string", index + 1)));
        }
        let sql = read_string(env, sql)?;
        let params = params_from_js(env, params).map_err(|e| e.context(&format!("batch statement {}", index + 1)))?;
        statements.push((sql, params));
    }
    Ok(statements)
}

/// Reads the options object's own enumerable properties.
fn read_options(env: sys::napi_env, options: sys::napi_value) -> DbResult<OpenOptions> {
    let mut kind = 0;
    unsafe { sys::napi_typeof(env, options, &mut kind) };
    if kind != sys::ValueType::napi_object {
        return Err(DbError::invalid_option("open() takes a url string or an options object"));
    }
    let mut keys = ptr::null_mut();
    let mut length = 0;
    unsafe {
        sys::napi_get_all_property_names(
            env,
            options,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys,
        );
        sys::napi_get_array_length(env, keys, &mut length);
    }
    let mut entries = Vec::with_capacity(length as usize);
    for index in 0..length {
        let mut key = ptr::null_mut();
        let mut value = ptr::null_mut();
        unsafe {
            sys::napi_get_element(env, keys, index, &mut key);
            sys::napi_get_property(env, options, key, &mut value);
        }
        let name = unsafe { read_string(env, key)? };
        entries.push((name, unsafe { option_value(env, value)? }));
    }
    OpenOptions::parse(entries)
}

unsafe fn option_value(env: sys::napi_env, value: sys::napi_value) -> DbResult<OptionValue> {
    let mut kind = 0;
    sys::napi_typeof(env, value, &mut kind);
    Ok(match kind {
        sys::ValueType::napi_undefined => OptionValue::Missing,
        sys::ValueType::napi_string => OptionValue::Str(read_string(env, value)?),
        sys::ValueType::napi_number => {
            let mut n = 0.0;
            sys::napi_get_value_double(env, value, &mut n);
            OptionValue::Num(n)
        }
        sys::ValueType::napi_boolean => {
            let mut b = false;
            sys::napi_get_value_bool(env, value, &mut b);
            OptionValue::Bool(b)
        }
        sys::ValueType::napi_null => OptionValue::Other("null"),
        sys::ValueType::napi_bigint => OptionValue::Other("a bigint"),
        sys::ValueType::napi_object => OptionValue::Other("an object"),
        sys::ValueType::napi_function => OptionValue::Other("a function"),
        sys::ValueType::napi_symbol => OptionValue::Other("a symbol"),
        _ => OptionValue::Other("an unsupported value"),
    })
}
