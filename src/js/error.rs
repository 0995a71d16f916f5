//! `DbError` as a JavaScript exception: `LibsqlError` (the class the JS layer registers when
//! the module loads), `TypeError` or `RangeError`.

use std::cell::RefCell;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::error::{DbError, ErrorClass};
use super::primitives::string;

thread_local! {
    /// The `LibsqlError` class registered by the JS layer at load time. Thread-local because
    /// each JS thread (main or worker) loads the addon with its own environment.
    static LIBSQL_ERROR_CLASS: RefCell<Option<sys::napi_ref>> = const { RefCell::new(None) };
}

/// Remembers the JS `LibsqlError` constructor for building rejections.
pub fn register_error_class(env: sys::napi_env, class: sys::napi_value) -> Result<()> {
    let mut reference = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_create_reference(env, class, 1, &mut reference) })?;
    LIBSQL_ERROR_CLASS.with(|slot| {
        if let Some(old) = slot.borrow_mut().replace(reference) {
            unsafe { sys::napi_delete_reference(env, old) };
        }
    });
    Ok(())
}

/// Building the JS error of a `DbError` (on the JS thread).
pub trait ToJsError {
    fn to_js(&self, env: sys::napi_env) -> Result<sys::napi_value>;
    fn into_napi(self, env: sys::napi_env) -> Error;
}

impl ToJsError for DbError {
    /// Builds the JS error object for this error (on the JS thread).
    fn to_js(&self, env: sys::napi_env) -> Result<sys::napi_value> {
        let message = unsafe { string(env, &self.message) }?;
        let code = unsafe { string(env, self.code.as_str()) }?;
        let mut error = std::ptr::null_mut();
        match self.class {
            ErrorClass::Type => check_status!(unsafe { sys::napi_create_type_error(env, code, message, &mut error) })?,
            ErrorClass::Range => check_status!(unsafe { sys::napi_create_range_error(env, code, message, &mut error) })?,
            ErrorClass::Libsql => {
                let class = LIBSQL_ERROR_CLASS.with(|slot| *slot.borrow());
                let raw_code = match self.raw_code {
                    Some(raw) => {
                        let mut value = std::ptr::null_mut();
                        check_status!(unsafe { sys::napi_create_int32(env, raw, &mut value) })?;
                        value
                    }
                    None => {
                        let mut value = std::ptr::null_mut();
                        check_status!(unsafe { sys::napi_get_undefined(env, &mut value) })?;
                        value
                    }
                };
                match class {
                    Some(reference) => {
                        let mut constructor = std::ptr::null_mut();
                        check_status!(unsafe { sys::napi_get_reference_value(env, reference, &mut constructor) })?;
                        let args = [message, code, raw_code];
                        check_status!(unsafe {
                            sys::napi_new_instance(env, constructor, args.len(), args.as_ptr(), &mut error)
                        })?;
                    }
                    None => check_status!(unsafe { sys::napi_create_error(env, code, message, &mut error) })?,
                }
            }
        }
        if let Some((key, value)) = &self.detail {
            let value = unsafe { string(env, value) }?;
            let key = std::ffi::CString::new(*key).expect("detail keys are literals");
            check_status!(unsafe { sys::napi_set_named_property(env, error, key.as_ptr(), value) })?;
        }
        Ok(error)
    }

    /// The napi error that makes napi-rs throw (or reject with) exactly our JS error object.
    fn into_napi(self, env: sys::napi_env) -> Error {
        match self.to_js(env) {
            Ok(value) => Error::from(unsafe { Unknown::from_raw_unchecked(env, value) }),
            Err(err) => err,
        }
    }
}


