//! Rows as JS objects, built by JS functions: each local statement keeps a row builder (a JS
//! function compiled once per column list by lib/results.ts) and hands it all of a result's
//! values in one call.

use std::cell::Cell;
use std::ptr;

use napi::{check_status, sys};

use crate::engine::{CachedStatement, RowSink, Rows, Running};
use crate::error::{DbError, DbResult, ErrorCode};
use crate::values::ColumnRef;

use super::primitives::{call, empty_array, new_reference, reference_value, undefined, JsResult};
use super::convert::column_to_js;

/// How many values one call of a row builder takes at most: they travel as call arguments on
/// the stack, so a large result is handed over in several calls.
const MAX_VALUES_PER_CALL: usize = 1024;

/// The JS functions results are built with (lib/results.ts), registered by the JS layer at
/// load; per thread, as each worker thread has its own JS environment.
#[derive(Clone, Copy)]
pub struct ResultBuilders {
    /// `(columns) => rowBuilder`, one row builder per distinct column list.
    pub compile_row_builder: sys::napi_ref,
    /// `(rowsAffected, lastInsertRowid) => ({ rowsAffected, lastInsertRowid })`.
    pub execute_result: sys::napi_ref,
}

thread_local! {
    static RESULT_BUILDERS: Cell<Option<ResultBuilders>> = const { Cell::new(None) };
}

pub fn register_result_builders(
    env: sys::napi_env,
    compile_row_builder: sys::napi_value,
    execute_result: sys::napi_value,
) -> JsResult<()> {
    let builders = unsafe {
        ResultBuilders {
            compile_row_builder: new_reference(env, compile_row_builder)?,
            execute_result: new_reference(env, execute_result)?,
        }
    };
    if let Some(old) = RESULT_BUILDERS.replace(Some(builders)) {
        unsafe {
            sys::napi_delete_reference(env, old.compile_row_builder);
            sys::napi_delete_reference(env, old.execute_result);
        }
    }
    Ok(())
}

pub fn result_builders() -> JsResult<ResultBuilders> {
    RESULT_BUILDERS
        .get()
        .ok_or_else(|| napi::Error::from_reason("the result builders were not registered (lib/results.ts)"))
}

/// A statement's row builder: a JS function `(rows, ...values) => rows` that appends one
/// object per `width` values, written as an object literal with the statement's column names
/// (lib/results.ts). V8 allocates such a literal with its final shape at once, where defining the
/// properties one by one from here walks a map transition per property per row; and handing
/// all values over as call arguments costs one call, where storing them into an array costs
/// one (slow, generic) element store each — measured as the largest costs of a query result.
pub struct RowBuilder {
    env: sys::napi_env,
    function: sys::napi_ref,
    /// The statement's recompile count it was made for: a recompile may change the columns.
    recompile_count: i32,
}

/// What the engine keeps with each cached local statement for this layer: its row builder,
/// once it has made rows.
pub type RowBuilderSlot = Option<RowBuilder>;

// SAFETY: builders exist only in the statement caches of local connections, which are used and
// dropped on the JS thread (`executor.rs`, `Executor::Inline`); a connection is only moved
// between threads while it is being opened, before it has run any statement.
unsafe impl Send for RowBuilder {}

impl Drop for RowBuilder {
    fn drop(&mut self) {
        // Statements (and so builders) are dropped on the JS thread: local connections live there.
        unsafe { sys::napi_delete_reference(self.env, self.function) };
    }
}

/// A local query's rows on their way to JS: the values as SQLite produces them, then handed
/// to the statement's row builder.
pub struct JsRows {
    env: sys::napi_env,
    /// `[rows, v0, v1, …]`: the builder's arguments, slot 0 for the rows array built so far
    /// (undefined at first). Handles stay alive in the call's handle scope.
    arguments: Vec<sys::napi_value>,
    width: usize,
    builder: sys::napi_value,
}

thread_local! {
    /// The argument buffer of the last finished query, reused so a query allocates none.
    /// Taken, not borrowed: a query started while another is building (from JS it calls)
    /// simply finds it empty.
    static SPARE_ARGUMENTS: Cell<Vec<sys::napi_value>> = const { Cell::new(Vec::new()) };
}

/// Buffers grown past this are dropped rather than kept for the next query.
const SPARE_ARGUMENTS_MAX: usize = 64 * 1024;

impl JsRows {
    pub unsafe fn new(env: sys::napi_env) -> JsResult<JsRows> {
        let mut arguments = SPARE_ARGUMENTS.take();
        arguments.push(undefined(env)?);
        Ok(JsRows { env, arguments, width: 0, builder: ptr::null_mut() })
    }

    /// The rows array.
    pub unsafe fn into_value(mut self) -> JsResult<sys::napi_value> {
        if self.builder.is_null() {
            return empty_array(self.env);
        }
        build_rows(self.env, self.builder, &mut self.arguments, self.width)
    }
}

impl Drop for JsRows {
    fn drop(&mut self) {
        // The handles are only valid during this call; the buffer keeps none of them.
        let mut arguments = std::mem::take(&mut self.arguments);
        if arguments.capacity() <= SPARE_ARGUMENTS_MAX {
            arguments.clear();
            SPARE_ARGUMENTS.set(arguments);
        }
    }
}

impl RowSink<RowBuilderSlot> for JsRows {
    fn row(&mut self, row: &Running<'_>) -> DbResult<()> {
        self.width = row.width();
        for index in 0..self.width {
            let value = unsafe { column_to_js(self.env, row.column(index)) }.map_err(internal)?;
            self.arguments.push(value);
        }
        Ok(())
    }

    fn finish(&mut self, cached: &mut CachedStatement<RowBuilderSlot>) -> DbResult<()> {
        if self.arguments.len() == 1 || self.width == 0 {
            return Ok(());
        }
        self.builder = unsafe { row_builder_of(self.env, cached) }.map_err(internal)?;
        Ok(())
    }
}

/// The statement's row builder, made (again) when it has none for its current columns.
unsafe fn row_builder_of(env: sys::napi_env, cached: &mut CachedStatement<RowBuilderSlot>) -> JsResult<sys::napi_value> {
    let statement = &cached.statement;
    let recompile_count = statement.recompile_count();
    if let Some(builder) = cached.attachment.as_ref().filter(|builder| builder.recompile_count == recompile_count) {
        return reference_value(env, builder.function);
    }
    let function = compile_row_builder(env, (0..statement.column_count()).map(|i| statement.column_name_bytes(i)))?;
    cached.attachment = Some(RowBuilder { env, function: new_reference(env, function)?, recompile_count });
    Ok(function)
}

/// Owned rows (remote results, batches) as an array of row objects.
pub unsafe fn rows_to_js(env: sys::napi_env, rows: &Rows) -> JsResult<sys::napi_value> {
    let width = rows.columns.len();
    if width == 0 || rows.values.is_empty() {
        return empty_array(env);
    }
    let builder = compile_row_builder(env, rows.columns.iter().map(|name| name.as_bytes()))?;
    let mut arguments = Vec::with_capacity(rows.values.len() + 1);
    arguments.push(undefined(env)?);
    for value in &rows.values {
        arguments.push(column_to_js(env, ColumnRef::from(value))?);
    }
    build_rows(env, builder, &mut arguments, width)
}

/// The row builder for a column list, from lib/results.ts (which keeps one per distinct list).
unsafe fn compile_row_builder<'a>(
    env: sys::napi_env,
    names: impl ExactSizeIterator<Item = &'a [u8]>,
) -> JsResult<sys::napi_value> {
    let compiler = result_builders()?.compile_row_builder;
    let mut columns = ptr::null_mut();
    check_status!(sys::napi_create_array_with_length(env, names.len(), &mut columns))?;
    for (index, name) in names.enumerate() {
        let mut key = ptr::null_mut();
        check_status!(sys::node_api_create_property_key_utf8(env, name.as_ptr().cast(), name.len() as isize, &mut key))?;
        check_status!(sys::napi_set_element(env, columns, index as u32, key))?;
    }
    call(env, reference_value(env, compiler)?, &[columns])
}

/// Calls `builder` with `arguments` (`[undefined, values…]`), in chunks of whole rows when
/// there are many; each call gets the rows array the previous one returned.
unsafe fn build_rows(
    env: sys::napi_env,
    builder: sys::napi_value,
    arguments: &mut [sys::napi_value],
    width: usize,
) -> JsResult<sys::napi_value> {
    let per_call = (MAX_VALUES_PER_CALL / width).max(1) * width;
    let values = arguments.len() - 1;
    let mut rows = arguments[0];
    let mut start = 0;
    while start < values {
        let end = (start + per_call).min(values);
        // The slot just before this chunk's values carries the rows array: the chunk and its
        // first argument are then one contiguous slice, with no copy.
        arguments[start] = rows;
        rows = call(env, builder, &arguments[start..=end])?;
        start = end;
    }
    Ok(rows)
}

fn internal(err: napi::Error) -> DbError {
    DbError::libsql(ErrorCode::Internal, format!("could not build the result rows: {}", err.reason))
}
