//! Operation results as JS values: rows become plain objects keyed by column name.

use std::ffi::CString;
use std::ptr;

use napi::bindgen_prelude::ToNapiValue;
use napi::{check_status, sys};

use crate::error::DbError;
use crate::error::DbResult;
use crate::local::Running;
use crate::session::{Output, RowSink, Rows, StatementResult};
use crate::value::{column_to_js, integer_to_js, ColumnRef, JsResult};

/// A JS value made by hand, handed back to napi-rs as is.
pub struct RawValue(pub sys::napi_value);

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        Ok(value.0)
    }
}

impl ToNapiValue for Output {
    unsafe fn to_napi_value(env: sys::napi_env, output: Self) -> napi::Result<sys::napi_value> {
        match output {
            Output::Rows(rows) => rows_to_js(env, &rows),
            Output::Execute(result) => {
                let object = new_object(env)?;
                write_counts(env, object, &result)?;
                Ok(object)
            }
            Output::Batch(results) => {
                let mut array = ptr::null_mut();
                check_status!(sys::napi_create_array_with_length(env, results.len(), &mut array))?;
                for (index, result) in results.iter().enumerate() {
                    let object = new_object(env)?;
                    set(env, object, "rows", rows_to_js(env, &result.rows)?)?;
                    write_counts(env, object, result)?;
                    check_status!(sys::napi_set_element(env, array, index as u32, object))?;
                }
                Ok(array)
            }
            Output::Done => {
                let mut undefined = ptr::null_mut();
                check_status!(sys::napi_get_undefined(env, &mut undefined))?;
                Ok(undefined)
            }
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

/// A query result as JS gets it: one flat array `[columns, v0, v1, …]` — the column names,
/// then every value row after row. The JS layer turns it into row objects with an object
/// literal made once per column list (lib/rows.ts): V8 gives such objects their final shape
/// at once, where defining properties one by one from here walks a map transition per
/// property per row (measured: the largest cost of reading many rows).
pub struct JsRows {
    env: sys::napi_env,
    /// Handles of the columns array and every value, kept alive by the call's handle scope;
    /// the array is made once at its final length (growing it element by element made V8
    /// copy its backing store over and over).
    items: Vec<sys::napi_value>,
    width: usize,
}

impl JsRows {
    pub unsafe fn new(env: sys::napi_env) -> JsResult<JsRows> {
        Ok(JsRows { env, items: Vec::new(), width: 0 })
    }

    pub unsafe fn set_columns<'a>(&mut self, names: impl ExactSizeIterator<Item = &'a [u8]>) -> JsResult<()> {
        let mut columns = ptr::null_mut();
        check_status!(sys::napi_create_array_with_length(self.env, names.len(), &mut columns))?;
        self.width = names.len();
        for (index, name) in names.enumerate() {
            let mut key = ptr::null_mut();
            check_status!(sys::node_api_create_property_key_utf8(self.env, name.as_ptr().cast(), name.len() as isize, &mut key))?;
            check_status!(sys::napi_set_element(self.env, columns, index as u32, key))?;
        }
        self.items.push(columns);
        Ok(())
    }

    pub unsafe fn push_row<'a>(&mut self, values: impl Iterator<Item = ColumnRef<'a>>) -> JsResult<()> {
        for value in values {
            self.items.push(column_to_js(self.env, value)?);
        }
        Ok(())
    }

    pub unsafe fn into_value(self) -> JsResult<sys::napi_value> {
        let mut array = ptr::null_mut();
        check_status!(sys::napi_create_array_with_length(self.env, self.items.len(), &mut array))?;
        for (index, item) in self.items.into_iter().enumerate() {
            check_status!(sys::napi_set_element(self.env, array, index as u32, item))?;
        }
        Ok(array)
    }
}

impl RowSink for JsRows {
    fn columns(&mut self, names: &[&[u8]]) -> DbResult<()> {
        unsafe { self.set_columns(names.iter().copied()) }.map_err(internal)
    }

    fn row(&mut self, row: &Running<'_>) -> DbResult<()> {
        let width = self.width;
        unsafe { self.push_row((0..width).map(|i| row.column(i))) }.map_err(internal)
    }
}

fn internal(err: napi::Error) -> DbError {
    DbError::libsql("INTERNAL", format!("could not build a result row: {err}"))
}

unsafe fn rows_to_js(env: sys::napi_env, rows: &Rows) -> JsResult<sys::napi_value> {
    let mut sink = JsRows::new(env)?;
    sink.set_columns(rows.columns.iter().map(|name| name.as_bytes()))?;
    let width = rows.columns.len();
    if width > 0 {
        for row in rows.values.chunks_exact(width) {
            sink.push_row(row.iter().map(ColumnRef::from))?;
        }
    }
    sink.into_value()
}

unsafe fn write_counts(env: sys::napi_env, object: sys::napi_value, result: &StatementResult) -> JsResult<()> {
    set(env, object, "rowsAffected", number(env, result.rows_affected as f64)?)?;
    let mut rowid = ptr::null_mut();
    integer_to_js(env, result.last_insert_rowid, &mut rowid)?;
    set(env, object, "lastInsertRowid", rowid)
}

unsafe fn new_object(env: sys::napi_env) -> JsResult<sys::napi_value> {
    let mut object = ptr::null_mut();
    check_status!(sys::napi_create_object(env, &mut object))?;
    Ok(object)
}

unsafe fn set(env: sys::napi_env, object: sys::napi_value, key: &str, value: sys::napi_value) -> JsResult<()> {
    let key = CString::new(key).expect("property names are literals");
    check_status!(sys::napi_set_named_property(env, object, key.as_ptr(), value))
}

/// A JS string (on the JS thread of `env`).
pub unsafe fn string(env: sys::napi_env, text: &str) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut value))?;
    Ok(value)
}

unsafe fn number(env: sys::napi_env, n: f64) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_create_double(env, n, &mut value))?;
    Ok(value)
}
