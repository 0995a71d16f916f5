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

/// Builds the row objects. Column-name keys are made once per result, not per row, and each
/// row's values are defined as own data properties in one call: unlike assignment, defining
/// never runs a setter, so a column named `__proto__` is an ordinary property, not the row's
/// prototype. When two columns share a name, the later one wins (as in better-sqlite3).
pub struct JsRows {
    env: sys::napi_env,
    array: sys::napi_value,
    descriptors: Vec<sys::napi_property_descriptor>,
    count: u32,
}

impl JsRows {
    pub unsafe fn new(env: sys::napi_env) -> JsResult<JsRows> {
        let mut array = ptr::null_mut();
        check_status!(sys::napi_create_array(env, &mut array))?;
        Ok(JsRows { env, array, descriptors: Vec::new(), count: 0 })
    }

    pub unsafe fn set_columns<'a>(&mut self, names: impl Iterator<Item = &'a [u8]>) -> JsResult<()> {
        self.descriptors.clear();
        for name in names {
            // Internalized keys: V8 then stores row properties on its fast path instead of
            // interning the name again for every row.
            let mut key = ptr::null_mut();
            check_status!(sys::node_api_create_property_key_utf8(self.env, name.as_ptr().cast(), name.len() as isize, &mut key))?;
            self.descriptors.push(sys::napi_property_descriptor {
                utf8name: ptr::null(),
                name: key,
                method: None,
                getter: None,
                setter: None,
                value: ptr::null_mut(),
                attributes: sys::PropertyAttributes::writable
                    | sys::PropertyAttributes::enumerable
                    | sys::PropertyAttributes::configurable,
                data: ptr::null_mut(),
            });
        }
        Ok(())
    }

    pub unsafe fn push_row<'a>(&mut self, values: impl Iterator<Item = ColumnRef<'a>>) -> JsResult<()> {
        let mut object = ptr::null_mut();
        check_status!(sys::napi_create_object(self.env, &mut object))?;
        for (descriptor, value) in self.descriptors.iter_mut().zip(values) {
            descriptor.value = column_to_js(self.env, value)?;
        }
        check_status!(sys::napi_define_properties(self.env, object, self.descriptors.len(), self.descriptors.as_ptr()))?;
        check_status!(sys::napi_set_element(self.env, self.array, self.count, object))?;
        self.count += 1;
        Ok(())
    }

    pub fn into_value(self) -> sys::napi_value {
        self.array
    }
}

impl RowSink for JsRows {
    fn columns(&mut self, names: &[&[u8]]) -> DbResult<()> {
        unsafe { self.set_columns(names.iter().copied()) }.map_err(internal)
    }

    fn row(&mut self, row: &Running<'_>) -> DbResult<()> {
        let width = self.descriptors.len();
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
    Ok(sink.into_value())
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
