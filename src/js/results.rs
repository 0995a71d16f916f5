//! Operation results as JS values: rows become plain objects keyed by column name (through the
//! row builders, `row_builder.rs`), the other results small objects.

use std::ptr;

use napi::bindgen_prelude::ToNapiValue;
use napi::{check_status, sys};

use crate::engine::{Output, StatementResult};
use crate::values::ColumnRef;

use super::primitives::{call, new_object, number, reference_value, set, string, undefined, JsResult};
use super::row_builder::{result_builders, rows_to_js};
use super::convert::{column_to_js, integer_to_js};

impl ToNapiValue for Output {
    unsafe fn to_napi_value(env: sys::napi_env, output: Self) -> napi::Result<sys::napi_value> {
        match output {
            Output::Rows(rows) => rows_to_js(env, &rows),
            Output::Execute(result) => execute_result(env, &result),
            Output::Batch(results) => {
                let mut array = ptr::null_mut();
                check_status!(sys::napi_create_array_with_length(env, results.len(), &mut array))?;
                for (index, result) in results.iter().enumerate() {
                    let object = execute_result(env, result)?;
                    set(env, object, "rows", rows_to_js(env, &result.rows)?)?;
                    check_status!(sys::napi_set_element(env, array, index as u32, object))?;
                }
                Ok(array)
            }
            Output::Done => undefined(env),
            Output::Migrated(report) => {
                let object = new_object(env)?;
                set(env, object, "set", string(env, &report.set)?)?;
                let mut applied = ptr::null_mut();
                check_status!(sys::napi_create_array_with_length(env, report.applied.len(), &mut applied))?;
                for (index, (version, name)) in report.applied.iter().enumerate() {
                    let entry = new_object(env)?;
                    set(env, entry, "version", number(env, *version as f64)?)?;
                    set(env, entry, "name", string(env, name)?)?;
                    check_status!(sys::napi_set_element(env, applied, index as u32, entry))?;
                }
                set(env, object, "applied", applied)?;
                set(env, object, "version", number(env, report.version as f64)?)?;
                Ok(object)
            }
            Output::Synced { frame_no, frames_synced } => {
                let object = new_object(env)?;
                let frame = match frame_no {
                    Some(frame) => number(env, frame as f64)?,
                    None => {
                        let mut null = ptr::null_mut();
                        check_status!(sys::napi_get_null(env, &mut null))?;
                        null
                    }
                };
                set(env, object, "frameNo", frame)?;
                set(env, object, "framesSynced", number(env, frames_synced as f64)?)?;
                Ok(object)
            }
        }
    }
}

/// `{ rowsAffected, lastInsertRowid }`, made by a JS object literal (one call, where setting
/// two properties from here walks V8's property lookup and map transitions for each).
unsafe fn execute_result(env: sys::napi_env, result: &StatementResult) -> JsResult<sys::napi_value> {
    let builder = reference_value(env, result_builders()?.execute_result)?;
    let rows_affected = number(env, result.rows_affected as f64)?;
    let mut rowid = ptr::null_mut();
    integer_to_js(env, result.last_insert_rowid, &mut rowid)?;
    call(env, builder, &[rows_affected, rowid])
}

/// `{ sql, params }`: a statement for the JS layer to run (a migration over another runner).
pub unsafe fn statement_request(env: sys::napi_env, sql: &str, params: &[libsql::Value]) -> JsResult<sys::napi_value> {
    let object = new_object(env)?;
    set(env, object, "sql", string(env, sql)?)?;
    let mut array = ptr::null_mut();
    check_status!(sys::napi_create_array_with_length(env, params.len(), &mut array))?;
    for (index, value) in params.iter().enumerate() {
        check_status!(sys::napi_set_element(env, array, index as u32, column_to_js(env, ColumnRef::from(value))?))?;
    }
    set(env, object, "params", array)?;
    Ok(object)
}
