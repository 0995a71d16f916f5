//! The small N-API pieces every JS conversion uses: values made by hand, calls, references.

use std::ffi::CString;
use std::ptr;

use napi::bindgen_prelude::ToNapiValue;
use napi::{check_status, sys};

use crate::error::{DbError, DbResult};

pub type JsResult<T> = napi::Result<T>;

/// Runs a napi call that reads a JS value; a failure is a `TypeError` naming the call.
macro_rules! napi_call {
    ($call:expr) => {
        if unsafe { $call } != napi::sys::Status::napi_ok {
            return Err(crate::error::DbError::type_error(concat!("could not read a JavaScript value (", stringify!($call), ")")));
        }
    };
}
pub(crate) use napi_call;

/// A JS value made by hand, handed back to napi-rs as is.
pub struct RawValue(pub sys::napi_value);

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        Ok(value.0)
    }
}

pub unsafe fn call(env: sys::napi_env, function: sys::napi_value, arguments: &[sys::napi_value]) -> JsResult<sys::napi_value> {
    let mut result = ptr::null_mut();
    let receiver = undefined(env)?;
    let status = sys::napi_call_function(env, receiver, function, arguments.len(), arguments.as_ptr(), &mut result);
    if status != sys::Status::napi_ok {
        let reason = take_exception_message(env).unwrap_or_else(|| format!("napi status {status}"));
        return Err(napi::Error::from_reason(reason));
    }
    Ok(result)
}

pub unsafe fn reference_value(env: sys::napi_env, reference: sys::napi_ref) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_get_reference_value(env, reference, &mut value))?;
    Ok(value)
}

pub unsafe fn empty_array(env: sys::napi_env) -> JsResult<sys::napi_value> {
    let mut array = ptr::null_mut();
    check_status!(sys::napi_create_array(env, &mut array))?;
    Ok(array)
}

pub unsafe fn undefined(env: sys::napi_env) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_get_undefined(env, &mut value))?;
    Ok(value)
}

pub unsafe fn boolean(env: sys::napi_env, flag: bool) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_get_boolean(env, flag, &mut value))?;
    Ok(value)
}

pub unsafe fn new_object(env: sys::napi_env) -> JsResult<sys::napi_value> {
    let mut object = ptr::null_mut();
    check_status!(sys::napi_create_object(env, &mut object))?;
    Ok(object)
}

pub unsafe fn set(env: sys::napi_env, object: sys::napi_value, key: &str, value: sys::napi_value) -> JsResult<()> {
    let key = CString::new(key).expect("property names are literals");
    check_status!(sys::napi_set_named_property(env, object, key.as_ptr(), value))
}

/// A JS string (on the JS thread of `env`).
pub unsafe fn string(env: sys::napi_env, text: &str) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut value))?;
    Ok(value)
}

pub unsafe fn number(env: sys::napi_env, n: f64) -> JsResult<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_create_double(env, n, &mut value))?;
    Ok(value)
}

pub unsafe fn new_reference(env: sys::napi_env, value: sys::napi_value) -> JsResult<sys::napi_ref> {
    let mut reference = ptr::null_mut();
    check_status!(sys::napi_create_reference(env, value, 1, &mut reference))?;
    Ok(reference)
}

/// Clears the pending JS exception, if any, and returns it as text.
pub unsafe fn take_exception_message(env: sys::napi_env) -> Option<String> {
    let mut pending = false;
    sys::napi_is_exception_pending(env, &mut pending);
    if !pending {
        return None;
    }
    let mut exception = ptr::null_mut();
    sys::napi_get_and_clear_last_exception(env, &mut exception);
    let mut text = ptr::null_mut();
    if sys::napi_coerce_to_string(env, exception, &mut text) != sys::Status::napi_ok {
        return Some(String::from("an exception that cannot be printed"));
    }
    read_string(env, text).ok()
}

/// Strings up to this many UTF-16 units are read in one pass into a buffer sized for the
/// worst case (3 UTF-8 bytes per unit); longer ones are measured first, so a large text never
/// allocates three times its size.
const ONE_PASS_UNITS: usize = 4096;

pub unsafe fn read_string(env: sys::napi_env, value: sys::napi_value) -> DbResult<String> {
    let mut units = 0usize;
    napi_call!(sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut units));
    let capacity = if units <= ONE_PASS_UNITS {
        units * 3 + 1
    } else {
        let mut length = 0usize;
        napi_call!(sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut length));
        length + 1
    };
    let mut bytes = Vec::<u8>::with_capacity(capacity);
    let mut written = 0usize;
    napi_call!(sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().cast(), capacity, &mut written));
    // SAFETY: V8 wrote `written` bytes (plus a NUL after them) into the buffer's capacity.
    bytes.set_len(written);
    // V8 emits valid UTF-8 (lone surrogates become U+FFFD); checking anyway keeps a bad handle
    // from ever becoming undefined behaviour, and costs next to nothing for ASCII.
    if bytes.is_ascii() {
        return Ok(String::from_utf8_unchecked(bytes));
    }
    String::from_utf8(bytes).map_err(|_| DbError::type_error("a string could not be read as UTF-8"))
}

/// A promise already settled with `outcome` (resolved, or rejected with the error value).
pub unsafe fn settled_promise(env: sys::napi_env, outcome: Result<sys::napi_value, sys::napi_value>) -> JsResult<sys::napi_value> {
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check_status!(sys::napi_create_promise(env, &mut deferred, &mut promise))?;
    match outcome {
        Ok(value) => check_status!(sys::napi_resolve_deferred(env, deferred, value))?,
        Err(error) => check_status!(sys::napi_reject_deferred(env, deferred, error))?,
    }
    Ok(promise)
}
