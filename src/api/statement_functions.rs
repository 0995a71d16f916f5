//! The per-statement operations (`query`, `execute`, `begin`, `commit`, `rollback`, the
//! shared sync's `unsyncedCommits`, `syncCommits`, and a server's `sendHeld`) as plain N-API
//! functions bound to one connection's executor.
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
use crate::executor::{panic_error, Executor};
use crate::js::args::statement_args;
use crate::js::error::ToJsError;
use crate::js::primitives::{boolean, undefined};

/// Which operation a function performs; its const parameter.
const QUERY: u8 = 0;
const EXECUTE: u8 = 1;
const BEGIN: u8 = 2;
const COMMIT: u8 = 3;
const ROLLBACK: u8 = 4;
const UNSYNCED_COMMITS: u8 = 5;
const SYNC_COMMITS: u8 = 6;
const SEND_HELD: u8 = 7;

/// `{ query, execute, begin, commit, rollback, unsyncedCommits, syncCommits, sendHeld }` for `executor`.
///
/// # Safety
/// On the JS thread of `env`, inside a napi call.
pub unsafe fn create(env: sys::napi_env, executor: &Rc<Executor>) -> Result<sys::napi_value> {
    let mut functions = ptr::null_mut();
    check_status!(sys::napi_create_object(env, &mut functions))?;
    let entries: [(&str, sys::napi_callback); 8] = [
        ("query", Some(call::<QUERY>)),
        ("execute", Some(call::<EXECUTE>)),
        ("begin", Some(call::<BEGIN>)),
        ("commit", Some(call::<COMMIT>)),
        ("rollback", Some(call::<ROLLBACK>)),
        // Asked after every local result (lib/database/commit-sync.ts).
        ("unsyncedCommits", Some(call::<UNSYNCED_COMMITS>)),
        ("syncCommits", Some(call::<SYNC_COMMITS>)),
        // Called at the end of a turn that ran statements on a server (lib/database/send-together.ts).
        ("sendHeld", Some(call::<SEND_HELD>)),
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

/// Finalizer of a function: drops its reference to the executor.
unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data.cast::<Rc<Executor>>()));
}

unsafe extern "C" fn call<const OP: u8>(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // No panic may unwind into Node: it would abort the process.
    let outcome = catch_unwind(AssertUnwindSafe(|| run::<OP>(env, info)));
    let error = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(panic) => panic_error(panic).into_napi(env),
    };
    JsError::from(error).throw_into(env);
    ptr::null_mut()
}

unsafe fn run<const OP: u8>(env: sys::napi_env, info: sys::napi_callback_info) -> Result<sys::napi_value> {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    let mut data = ptr::null_mut();
    check_status!(sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data))?;
    // SAFETY: `data` is the `Rc<Executor>` this function was created with, alive until the
    // function is collected — which cannot happen while it runs.
    let executor = &*data.cast::<Rc<Executor>>();
    let env = Env::from_raw(env);
    let op = match OP {
        QUERY | EXECUTE => {
            let sql = Unknown::from_raw_unchecked(env.raw(), argv[0]);
            // A missing argument reads as undefined: params are then none.
            let params = Unknown::from_raw_unchecked(env.raw(), argv[1]);
            statement_args(&env, sql, Some(params)).map(|(sql, params)| match OP {
                QUERY => Op::Query { sql, params },
                _ => Op::Execute { sql, params },
            })
        }
        BEGIN => Ok(Op::Begin),
        COMMIT => Ok(Op::Commit),
        ROLLBACK => Ok(Op::Rollback),
        UNSYNCED_COMMITS => return boolean(env.raw(), executor.has_unsynced_commits()),
        SEND_HELD => {
            executor.send_held();
            return undefined(env.raw());
        }
        _ => return executor.sync_commits().map_err(|e| e.into_napi(env.raw())).and_then(|()| undefined(env.raw())),
    };
    executor.dispatch(&env, op).map(|value| value.0)
}
