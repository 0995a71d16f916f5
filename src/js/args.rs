//! The JS arguments of the N-API surface: SQL text, parameters, statement lists, options.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::error::{DbError, DbResult};
use crate::options::{OpenOptions, OptionValue};
use crate::values::Params;

use super::primitives::{napi_call, read_string};
use super::convert::{for_each_own_property, params_from_js, read_failed, read_well_formed_string, type_of};

pub fn statement_args(env: &Env, sql: Unknown, params: Option<Unknown>) -> DbResult<(String, Params)> {
    let sql = sql_arg(env, sql)?;
    let params = match params {
        Some(params) => unsafe { params_from_js(env.raw(), params.raw())? },
        None => Params::None,
    };
    Ok((sql, params))
}

pub fn sql_arg(env: &Env, sql: Unknown) -> DbResult<String> {
    if sql.get_type().ok() != Some(ValueType::String) {
        return Err(DbError::type_error("sql must be a string"));
    }
    unsafe { read_well_formed_string(env.raw(), sql.raw(), &"the SQL text") }
}

pub unsafe fn read_statement_list(env: sys::napi_env, list: sys::napi_value) -> DbResult<Vec<(String, Params)>> {
    let fail = || DbError::type_error("batch() takes an array of statements: strings, { sql, params } or [sql, params]");
    let mut is_array = false;
    if sys::napi_is_array(env, list, &mut is_array) != sys::Status::napi_ok || !is_array {
        return Err(fail());
    }
    let mut length = 0;
    napi_call!(sys::napi_get_array_length(env, list, &mut length));
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
        if type_of(env, sql)? != sys::ValueType::napi_string {
            return Err(DbError::type_error(format!("batch statement {} has no sql string", index + 1)));
        }
        let sql = read_string(env, sql)?;
        let params = params_from_js(env, params).map_err(|e| e.context(&format!("batch statement {}", index + 1)))?;
        statements.push((sql, params));
    }
    Ok(statements)
}

/// Reads the options object's own enumerable properties.
pub fn read_options(env: sys::napi_env, options: sys::napi_value) -> DbResult<OpenOptions> {
    if type_of(env, options)? != sys::ValueType::napi_object {
        return Err(DbError::invalid_option("open() takes a url string or an options object"));
    }
    let mut entries = Vec::new();
    unsafe {
        for_each_own_property(env, options, |name, value| {
            let value = value.ok_or_else(|| read_failed(env, &format_args!("option `{name}`")))?;
            entries.push((name, option_value(env, value)?));
            Ok(())
        })?;
    }
    OpenOptions::parse(entries)
}

unsafe fn option_value(env: sys::napi_env, value: sys::napi_value) -> DbResult<OptionValue> {
    Ok(match type_of(env, value)? {
        sys::ValueType::napi_undefined => OptionValue::Missing,
        sys::ValueType::napi_string => OptionValue::Str(read_string(env, value)?),
        sys::ValueType::napi_number => {
            let mut n = 0.0;
            napi_call!(sys::napi_get_value_double(env, value, &mut n));
            OptionValue::Num(n)
        }
        sys::ValueType::napi_boolean => {
            let mut b = false;
            napi_call!(sys::napi_get_value_bool(env, value, &mut b));
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
