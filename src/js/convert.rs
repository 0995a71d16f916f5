//! Values across the boundary: JS parameters -> `libsql::Value`, and SQLite values -> JS.
//!
//! The mapping (see docs/api.md):
//! string <-> TEXT; number -> INTEGER when integral and safe, REAL otherwise; bigint ->
//! INTEGER (must fit 64 bits); boolean -> 0/1; null <-> NULL; Uint8Array/Buffer/ArrayBuffer
//! -> BLOB, and BLOB -> Uint8Array. INTEGER comes back as a number when it is within
//! +-(2^53 - 1) and as a bigint otherwise, so no integer is ever silently rounded.
//!
//! Raw napi calls are used on purpose: this is the per-value hot path of every query.

use std::ptr;

use libsql::Value;
use napi::sys;

use crate::error::{DbError, DbResult};
use crate::values::{number_to_value, Params, ColumnRef, MAX_SAFE_INTEGER};

use super::primitives::{napi_call, read_string, take_exception_message, JsResult};

/// Where a parameter came from, for error messages.
enum ParamLabel<'a> {
    Index(usize),
    Name(&'a str),
}

impl std::fmt::Display for ParamLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamLabel::Index(i) => write!(f, "parameter {} (params[{i}])", i + 1),
            ParamLabel::Name(name) => write!(f, "parameter `{name}`"),
        }
    }
}



pub fn type_of(env: sys::napi_env, value: sys::napi_value) -> DbResult<sys::napi_valuetype> {
    let mut kind = 0;
    napi_call!(sys::napi_typeof(env, value, &mut kind));
    Ok(kind)
}

/// Reads the `params` argument of `query`/`execute`: undefined/null, an array, or an object.
///
/// # Safety
/// `env` and `value` must be live handles of the current napi call.
pub unsafe fn params_from_js(env: sys::napi_env, value: sys::napi_value) -> DbResult<Params> {
    match type_of(env, value)? {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(Params::None),
        sys::ValueType::napi_object => {
            let mut is_array = false;
            napi_call!(sys::napi_is_array(env, value, &mut is_array));
            if is_array {
                let mut length = 0;
                napi_call!(sys::napi_get_array_length(env, value, &mut length));
                let mut values = Vec::with_capacity(length as usize);
                for index in 0..length {
                    let label = ParamLabel::Index(index as usize);
                    let mut element = ptr::null_mut();
                    if sys::napi_get_element(env, value, index, &mut element) != sys::Status::napi_ok {
                        return Err(read_failed(env, &label));
                    }
                    values.push(value_from_js(env, element, label)?);
                }
                return Ok(Params::Positional(values));
            }
            if is_binary_or_date(env, value)? {
                return Err(DbError::type_error(
                    "params must be an array (for ? placeholders) or a plain object (for :name placeholders)",
                ));
            }
            let mut named = Vec::new();
            for_each_own_property(env, value, |name, element| {
                let label = ParamLabel::Name(&name);
                let element = element.ok_or_else(|| read_failed(env, &label))?;
                let converted = value_from_js(env, element, label)?;
                named.push((name, converted));
                Ok(())
            })?;
            Ok(Params::Named(named))
        }
        _ => Err(DbError::type_error(
            "params must be an array (for ? placeholders) or a plain object (for :name placeholders)",
        )),
    }
}

/// Calls `visit(name, value)` for each own enumerable string-keyed property of `object`, in
/// order; `value` is `None` where reading it failed (a getter or proxy threw; the exception is
/// still pending, for `read_failed`).
///
/// # Safety
/// `env` and `object` must be live handles of the current napi call.
pub unsafe fn for_each_own_property(
    env: sys::napi_env,
    object: sys::napi_value,
    mut visit: impl FnMut(String, Option<sys::napi_value>) -> DbResult<()>,
) -> DbResult<()> {
    let mut keys = ptr::null_mut();
    napi_call!(sys::napi_get_all_property_names(
        env,
        object,
        sys::KeyCollectionMode::own_only,
        sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
        sys::KeyConversion::numbers_to_strings,
        &mut keys
    ));
    let mut length = 0;
    napi_call!(sys::napi_get_array_length(env, keys, &mut length));
    for index in 0..length {
        let mut key = ptr::null_mut();
        napi_call!(sys::napi_get_element(env, keys, index, &mut key));
        let name = read_string(env, key)?;
        let mut value = ptr::null_mut();
        let read = sys::napi_get_property(env, object, key, &mut value) == sys::Status::napi_ok;
        visit(name, read.then_some(value))?;
    }
    Ok(())
}

/// A value could not be read: a getter or proxy threw. That exception is taken (so it does not
/// also surface later) and its message named.
pub unsafe fn read_failed(env: sys::napi_env, label: &dyn std::fmt::Display) -> DbError {
    let reason = match take_exception_message(env) {
        Some(message) => format!("reading it threw: {message}"),
        None => String::from("reading it failed"),
    };
    DbError::type_error(format!("{label} could not be read ({reason})"))
}


unsafe fn is_binary_or_date(env: sys::napi_env, value: sys::napi_value) -> DbResult<bool> {
    let mut yes = false;
    napi_call!(sys::napi_is_typedarray(env, value, &mut yes));
    if yes {
        return Ok(true);
    }
    napi_call!(sys::napi_is_arraybuffer(env, value, &mut yes));
    if yes {
        return Ok(true);
    }
    napi_call!(sys::napi_is_dataview(env, value, &mut yes));
    if yes {
        return Ok(true);
    }
    napi_call!(sys::napi_is_date(env, value, &mut yes));
    Ok(yes)
}

unsafe fn value_from_js(env: sys::napi_env, value: sys::napi_value, label: ParamLabel<'_>) -> DbResult<Value> {
    match type_of(env, value)? {
        sys::ValueType::napi_null => Ok(Value::Null),
        sys::ValueType::napi_string => Ok(Value::Text(read_well_formed_string(env, value, &label)?)),
        sys::ValueType::napi_number => {
            let mut number = 0.0;
            napi_call!(sys::napi_get_value_double(env, value, &mut number));
            number_to_value(number).map_err(|what| {
                DbError::type_error(format!("{label} is {what}; SQLite cannot store it (use null or a finite number)"))
            })
        }
        sys::ValueType::napi_boolean => {
            let mut flag = false;
            napi_call!(sys::napi_get_value_bool(env, value, &mut flag));
            Ok(Value::Integer(flag as i64))
        }
        sys::ValueType::napi_bigint => {
            let mut integer = 0i64;
            let mut lossless = false;
            napi_call!(sys::napi_get_value_bigint_int64(env, value, &mut integer, &mut lossless));
            if !lossless {
                return Err(DbError::range_error(format!(
                    "{label} is a bigint outside SQLite's 64-bit integer range (-2^63 .. 2^63-1)"
                )));
            }
            Ok(Value::Integer(integer))
        }
        sys::ValueType::napi_object => object_to_value(env, value, &label),
        sys::ValueType::napi_undefined => Err(DbError::type_error(format!(
            "{label} is undefined (a missing value or a hole in a sparse array); use null for SQL NULL"
        ))),
        sys::ValueType::napi_symbol => Err(DbError::type_error(format!("{label} is a symbol; SQLite cannot store it"))),
        sys::ValueType::napi_function => Err(DbError::type_error(format!("{label} is a function; SQLite cannot store it"))),
        _ => Err(DbError::type_error(format!("{label} has a type SQLite cannot store"))),
    }
}

unsafe fn object_to_value(env: sys::napi_env, value: sys::napi_value, label: &ParamLabel<'_>) -> DbResult<Value> {
    let mut yes = false;
    napi_call!(sys::napi_is_typedarray(env, value, &mut yes));
    if yes {
        let mut kind = 0;
        let mut length = 0usize;
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        let mut offset = 0usize;
        napi_call!(sys::napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, &mut buffer, &mut offset));
        if kind != sys::TypedarrayType::uint8_array && kind != sys::TypedarrayType::uint8_clamped_array {
            return Err(DbError::type_error(format!(
                "{label} is a {}; pass a Uint8Array or Buffer for a BLOB",
                typed_array_name(kind)
            )));
        }
        ensure_attached(env, buffer, label)?;
        return Ok(Value::Blob(copy_bytes(data, length)));
    }
    napi_call!(sys::napi_is_arraybuffer(env, value, &mut yes));
    if yes {
        ensure_attached(env, value, label)?;
        let mut data = ptr::null_mut();
        let mut length = 0usize;
        napi_call!(sys::napi_get_arraybuffer_info(env, value, &mut data, &mut length));
        return Ok(Value::Blob(copy_bytes(data, length)));
    }
    napi_call!(sys::napi_is_dataview(env, value, &mut yes));
    if yes {
        return Err(DbError::type_error(format!("{label} is a DataView; pass a Uint8Array or Buffer for a BLOB")));
    }
    napi_call!(sys::napi_is_date(env, value, &mut yes));
    if yes {
        return Err(DbError::type_error(format!(
            "{label} is a Date; pass date.getTime() or date.toISOString() to choose how it is stored"
        )));
    }
    napi_call!(sys::napi_is_array(env, value, &mut yes));
    let what = if yes { "an array" } else { "an object" };
    Err(DbError::type_error(format!(
        "{label} is {what}; SQLite values are string, number, bigint, boolean, null or Uint8Array (JSON.stringify it to store JSON)"
    )))
}

unsafe fn ensure_attached(env: sys::napi_env, buffer: sys::napi_value, label: &ParamLabel<'_>) -> DbResult<()> {
    let mut detached = false;
    napi_call!(sys::napi_is_detached_arraybuffer(env, buffer, &mut detached));
    if detached {
        return Err(DbError::type_error(format!("{label} is backed by a detached ArrayBuffer")));
    }
    Ok(())
}

unsafe fn copy_bytes(data: *mut std::ffi::c_void, length: usize) -> Vec<u8> {
    if length == 0 || data.is_null() {
        return Vec::new();
    }
    std::slice::from_raw_parts(data as *const u8, length).to_vec()
}

fn typed_array_name(kind: sys::napi_typedarray_type) -> &'static str {
    match kind {
        sys::TypedarrayType::int8_array => "Int8Array",
        sys::TypedarrayType::int16_array => "Int16Array",
        sys::TypedarrayType::uint16_array => "Uint16Array",
        sys::TypedarrayType::int32_array => "Int32Array",
        sys::TypedarrayType::uint32_array => "Uint32Array",
        sys::TypedarrayType::float32_array => "Float32Array",
        sys::TypedarrayType::float64_array => "Float64Array",
        sys::TypedarrayType::bigint64_array => "BigInt64Array",
        sys::TypedarrayType::biguint64_array => "BigUint64Array",
        _ => "typed array of another element type",
    }
}

/// Reads a JS string as UTF-8. V8 writes U+FFFD for lone surrogates; those strings are
/// refused rather than stored altered. `what` names the string in the error.
pub unsafe fn read_well_formed_string(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &dyn std::fmt::Display,
) -> DbResult<String> {
    let text = read_string(env, value)?;
    if !text.is_ascii() && text.contains('\u{FFFD}') && has_lone_surrogate(env, value)? {
        return Err(DbError::type_error(format!(
            "{what} is a string with a lone surrogate (not well-formed UTF-16); SQLite text must be valid Unicode"
        )));
    }
    Ok(text)
}

unsafe fn has_lone_surrogate(env: sys::napi_env, value: sys::napi_value) -> DbResult<bool> {
    let mut length = 0usize;
    napi_call!(sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut length));
    let mut units = vec![0u16; length + 1];
    let mut written = 0usize;
    napi_call!(sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), units.len(), &mut written));
    units.truncate(written);
    Ok(char::decode_utf16(units).any(|c| c.is_err()))
}

// ---- SQLite -> JS ----------------------------------------------------------------------



macro_rules! js_call {
    ($call:expr) => {
        napi::check_status!(unsafe { $call })?
    };
}

/// The JS value of a column. TEXT goes to V8 with its byte length (NUL characters kept; V8
/// replaces invalid UTF-8 with U+FFFD); BLOB becomes a Uint8Array over a copy.
///
/// # Safety
/// Must run on the JS thread of `env`, inside a handle scope.
pub unsafe fn column_to_js(env: sys::napi_env, value: ColumnRef<'_>) -> JsResult<sys::napi_value> {
    let mut out = ptr::null_mut();
    match value {
        ColumnRef::Null => js_call!(sys::napi_get_null(env, &mut out)),
        ColumnRef::Integer(i) => integer_to_js(env, i, &mut out)?,
        ColumnRef::Real(f) => js_call!(sys::napi_create_double(env, f, &mut out)),
        // ASCII is the same bytes in Latin-1, which V8 copies as they are instead of decoding.
        ColumnRef::Text(s) if s.is_ascii() => {
            js_call!(sys::napi_create_string_latin1(env, s.as_ptr().cast(), s.len() as isize, &mut out))
        }
        ColumnRef::Text(s) => js_call!(sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)),
        ColumnRef::Blob(bytes) => {
            let mut data = ptr::null_mut();
            let mut buffer = ptr::null_mut();
            js_call!(sys::napi_create_arraybuffer(env, bytes.len(), &mut data, &mut buffer));
            if !bytes.is_empty() {
                ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len());
            }
            js_call!(sys::napi_create_typedarray(env, sys::TypedarrayType::uint8_array, bytes.len(), buffer, 0, &mut out));
        }
    }
    Ok(out)
}

/// A number when exact, a bigint beyond +-(2^53 - 1).
pub unsafe fn integer_to_js(env: sys::napi_env, value: i64, out: &mut sys::napi_value) -> JsResult<()> {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value) {
        js_call!(sys::napi_create_int64(env, value, out));
    } else {
        js_call!(sys::napi_create_bigint_int64(env, value, out));
    }
    Ok(())
}
