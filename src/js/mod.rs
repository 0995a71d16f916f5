//! The JS boundary: values in (parameters, options, statement lists) and out (rows, results),
//! errors as JS exceptions. Everything here runs on the JS thread, inside a napi call.

pub mod args;
pub mod error;
pub mod primitives;
pub mod results;
pub mod row_builder;
pub mod convert;
