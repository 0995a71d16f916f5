//! The per-statement operations (`query`, `execute`, `begin`, `commit`, `rollback`, the
//! shared sync's `awaitsFsync`, `fsyncCommits`, and a server's `sendHeld`) as plain N-API
//! functions bound to one connection's executor. Each is a type implementing `Function`, so the
//! dispatch is the compiler's, with no catch-all.
//!
//! A transaction's operations name it by the number the JS layer gave it at `begin` (the last
//! argument): a server runs several transactions at once, each on a lane of its own
//! (`executor/pool.rs`); elsewhere the number is ignored.
//!
//! Why not `NativeDatabase` methods: napi-rs resolves a method's `this` on every call
//! (unwrap, class type-tag check, and a borrow record taken and released under a mutex),
//! measured at ~0.2 µs per call, which is a few percent of a point query and more of a
//! transaction's statements. A function created here carries the executor as its data
//! pointer instead, and owns one reference to it until the function is garbage collected.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::engine::Op;
use crate::error::{DbError, DbResult};
use crate::executor::{panic_error, Executor, TransactionId};
use crate::js::args::statement_args;
use crate::js::error::ToJsError;
use crate::js::primitives::{boolean, undefined};
use crate::js::convert::type_of;

/// One function of the set: its name, and what a call does.
trait Function {
    const NAME: &'static str;
    /// # Safety
    /// On the JS thread, inside a napi call; `argv` holds the call's first three arguments
    /// (`undefined` where missing).
    unsafe fn call(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3]) -> Result<sys::napi_value>;
}

struct Query;
struct Execute;
struct Begin;
struct Commit;
struct Rollback;
struct AwaitsFsync;
struct FsyncCommits;
struct SendHeld;

/// `query(sql, params?, transaction?)` and `execute(…)`: a statement, top-level or in a transaction.
unsafe fn statement(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3], make: fn(String, crate::values::Params) -> Op) -> Result<sys::napi_value> {
    let sql = Unknown::from_raw_unchecked(env.raw(), argv[0]);
    // A missing argument reads as undefined: params are then none.
    let params = Unknown::from_raw_unchecked(env.raw(), argv[1]);
    let op = statement_args(env, sql, Some(params)).map(|(sql, params)| make(sql, params));
    let transaction = transaction_id(env, executor, argv[2]).map_err(|e| e.into_napi(env.raw()))?;
    executor.dispatch(env, op, transaction).map(|value| value.0)
}

/// `begin(transaction?)`, `commit(…)`, `rollback(…)`.
unsafe fn control(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3], op: Op) -> Result<sys::napi_value> {
    let transaction = transaction_id(env, executor, argv[0]).map_err(|e| e.into_napi(env.raw()))?;
    executor.dispatch(env, Ok(op), transaction).map(|value| value.0)
}

/// The transaction a call names: read only where it matters (not on the JS thread's connection,
/// whose one transaction at a time needs no name).
unsafe fn transaction_id(env: &Env, executor: &Executor, value: sys::napi_value) -> DbResult<TransactionId> {
    if executor.runs_inline() || type_of(env.raw(), value)? == sys::ValueType::napi_undefined {
        return Ok(None);
    }
    let mut id = 0i64;
    if sys::napi_get_value_int64(env.raw(), value, &mut id) != sys::Status::napi_ok || id < 0 {
        return Err(DbError::type_error("a transaction is named by a non-negative number"));
    }
    Ok(Some(id as u64))
}

impl Function for Query {
    const NAME: &'static str = "query";
    unsafe fn call(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        statement(env, executor, argv, |sql, params| Op::Query { sql, params })
    }
}

impl Function for Execute {
    const NAME: &'static str = "execute";
    unsafe fn call(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        statement(env, executor, argv, |sql, params| Op::Execute { sql, params })
    }
}

impl Function for Begin {
    const NAME: &'static str = "begin";
    unsafe fn call(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        control(env, executor, argv, Op::Begin)
    }
}

impl Function for Commit {
    const NAME: &'static str = "commit";
    unsafe fn call(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        control(env, executor, argv, Op::Commit)
    }
}

impl Function for Rollback {
    const NAME: &'static str = "rollback";
    unsafe fn call(env: &Env, executor: &Executor, argv: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        control(env, executor, argv, Op::Rollback)
    }
}

/// Asked after every local result (lib/database/shared-fsync.ts).
impl Function for AwaitsFsync {
    const NAME: &'static str = "awaitsFsync";
    unsafe fn call(env: &Env, executor: &Executor, _: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        boolean(env.raw(), executor.awaits_fsync())
    }
}

impl Function for FsyncCommits {
    const NAME: &'static str = "fsyncCommits";
    unsafe fn call(env: &Env, executor: &Executor, _: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        executor.fsync_commits().map_err(|e| e.into_napi(env.raw()))?;
        undefined(env.raw())
    }
}

/// Called at the end of a turn that ran statements on a server or replica (lib/database/send-together.ts).
impl Function for SendHeld {
    const NAME: &'static str = "sendHeld";
    unsafe fn call(env: &Env, executor: &Executor, _: &[sys::napi_value; 3]) -> Result<sys::napi_value> {
        executor.send_held();
        undefined(env.raw())
    }
}

/// `{ query, execute, begin, commit, rollback, awaitsFsync, fsyncCommits, sendHeld }` for `executor`.
///
/// # Safety
/// On the JS thread of `env`, inside a napi call.
pub unsafe fn create(env: sys::napi_env, executor: &Rc<Executor>) -> Result<sys::napi_value> {
    let mut functions = ptr::null_mut();
    check_status!(sys::napi_create_object(env, &mut functions))?;
    let entries: [(&str, sys::napi_callback); 8] = [
        entry::<Query>(),
        entry::<Execute>(),
        entry::<Begin>(),
        entry::<Commit>(),
        entry::<Rollback>(),
        entry::<AwaitsFsync>(),
        entry::<FsyncCommits>(),
        entry::<SendHeld>(),
    ];
    for (name, callback) in entries {
        let data = Box::into_raw(Box::new(Rc::clone(executor))).cast::<c_void>();
        let mut function = ptr::null_mut();
        let created = sys::napi_create_function(env, name.as_ptr().cast(), name.len() as isize, callback, data, &mut function);
        if created != sys::Status::napi_ok
            || sys::napi_add_finalizer(env, function, data, Some(release), ptr::null_mut(), ptr::null_mut()) != sys::Status::napi_ok
        {
            drop(Box::from_raw(data.cast::<Rc<Executor>>()));
            return Err(Error::from_reason(format!("could not create the {name} function")));
        }
        let key = std::ffi::CString::new(name).expect("literal names");
        check_status!(sys::napi_set_named_property(env, functions, key.as_ptr(), function))?;
    }
    Ok(functions)
}

fn entry<F: Function>() -> (&'static str, sys::napi_callback) {
    (F::NAME, Some(callback::<F>))
}

/// Finalizer of a function: drops its reference to the executor.
unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data.cast::<Rc<Executor>>()));
}

unsafe extern "C" fn callback<F: Function>(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // No panic may unwind into Node: it would abort the process.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut argc = 3usize;
        let mut argv = [ptr::null_mut(); 3];
        let mut data = ptr::null_mut();
        check_status!(sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data))?;
        // SAFETY: `data` is the `Rc<Executor>` this function was created with, alive until the
        // function is collected — which cannot happen while it runs.
        let executor = &*data.cast::<Rc<Executor>>();
        F::call(&Env::from_raw(env), executor, &argv)
    }));
    let error = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(panic) => panic_error(panic).into_napi(env),
    };
    JsError::from(error).throw_into(env);
    ptr::null_mut()
}
