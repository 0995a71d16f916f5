//! Local targets: each operation runs to completion on the JS thread, inside the call.

use std::cell::{RefCell, RefMut};
use std::panic::AssertUnwindSafe;

use napi::bindgen_prelude::*;

use crate::engine::{Op, Output};
use crate::error::{DbError, DbResult, ErrorCode};
use crate::js::error::ToJsError;
use crate::js::primitives::RawValue;
use crate::js::row_builder::JsRows;
use crate::values::Params;

use super::{guarded, panic_error, JsConnection};

/// Runs `op` on the JS thread's connection and returns its value.
pub(super) fn dispatch(slot: &RefCell<Option<JsConnection>>, env: &Env, op: Op) -> Result<RawValue> {
    if let Op::Query { sql, params } = op {
        return query(slot, env, &sql, params).map_err(|e| e.into_napi(env.raw()));
    }
    let output = run(slot, op).map_err(|e| e.into_napi(env.raw()))?;
    Ok(RawValue(unsafe { Output::to_napi_value(env.raw(), output)? }))
}

/// The JS thread's connection, for one operation (`None` inside once closed).
pub(super) fn borrow(slot: &RefCell<Option<JsConnection>>) -> DbResult<RefMut<'_, Option<JsConnection>>> {
    slot.try_borrow_mut().map_err(|_| DbError::libsql(ErrorCode::Internal, "the connection is busy with another operation"))
}

/// The hot path: a local `query()` writes rows straight from SQLite's buffers into JS objects.
/// Also a replica's reads, on its reader (`worker.rs`).
pub(super) fn query(slot: &RefCell<Option<JsConnection>>, env: &Env, sql: &str, params: Params) -> DbResult<RawValue> {
    let mut slot = borrow(slot)?;
    let connection = slot.as_mut().ok_or_else(DbError::closed)?;
    let mut rows = unsafe { JsRows::new(env.raw()) }.map_err(|e| DbError::libsql(ErrorCode::Internal, e.to_string()))?;
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| connection.query_local(sql, params, &mut rows)))
        .unwrap_or_else(|panic| Some(Err(panic_error(panic))));
    match ran {
        Some(result) => {
            result?;
            unsafe { rows.into_value() }.map(RawValue).map_err(|e| DbError::libsql(ErrorCode::Internal, e.to_string()))
        }
        None => Err(DbError::libsql(ErrorCode::Internal, "an inline query was called for a remote target")),
    }
}

/// Local operations never wait: their futures complete on the first poll (the `async` is for
/// the remote engine), so one poll runs them, with no executor around it.
fn run(slot: &RefCell<Option<JsConnection>>, op: Op) -> DbResult<Output> {
    let mut slot = borrow(slot)?;
    let connection = slot.as_mut().ok_or_else(DbError::closed)?;
    let operation = std::pin::pin!(guarded(connection.run(op)));
    match std::future::Future::poll(operation, &mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(DbError::libsql(ErrorCode::Internal, "a local operation did not complete at once")),
    }
}
