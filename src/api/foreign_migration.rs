//! Flue's schema over a runner that is not ours, for `libsql(runner)`: the JS layer runs each
//! statement the native migrator asks for inside the runner's transaction and hands the rows
//! back (src/engine/migrate/foreign.rs). And the names the CLI shares with the migrator.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::engine::{self, ForeignMigration, Step, FLUE_FORMAT_VERSION, MIGRATIONS_TABLE};
use crate::error::DbResult;
use crate::js::error::ToJsError;
use crate::js::primitives::{napi_call, RawValue};
use crate::js::results::statement_request;
use crate::js::convert::params_from_js;
use crate::values::Params;

/// Flue's schema and format stamp, applied statement by statement through another runner.
#[napi]
pub struct FlueMigrationOverRunner {
    migration: ForeignMigration,
}

#[napi]
impl FlueMigrationOverRunner {
    #[napi(constructor)]
    pub fn new() -> Self {
        FlueMigrationOverRunner { migration: ForeignMigration::new("flue".into(), engine::flue_migrations(), true) }
    }

    /// The next statement as `{ sql, params }`, given the previous one's rows as arrays of
    /// values in column order (nothing at the start); `null` once the migration is done.
    #[napi(ts_args_type = "rows?: unknown[][]", ts_return_type = "{ sql: string; params: unknown[] } | null")]
    pub fn next(&mut self, env: Env, rows: Option<Unknown>) -> Result<RawValue> {
        let rows = match rows {
            Some(rows) => Some(unsafe { read_rows(env.raw(), rows.raw()) }.map_err(|e| e.into_napi(env.raw()))?),
            None => None,
        };
        match self.migration.next(rows).map_err(|e| e.into_napi(env.raw()))? {
            Step::Statement { sql, params } => unsafe { statement_request(env.raw(), &sql, &params) }.map(RawValue),
            Step::Done => Ok(RawValue(unsafe { Null::to_napi_value(env.raw(), Null)? })),
        }
    }
}

/// The table that records applied migrations.
#[napi]
pub fn migrations_table() -> &'static str {
    MIGRATIONS_TABLE
}

/// The Flue format version this package reads and writes.
#[napi]
pub fn flue_format_version() -> &'static str {
    FLUE_FORMAT_VERSION
}

/// `text` with anything that looks like a credential hidden (as in every error message).
#[napi]
pub fn redact(text: String) -> String {
    crate::error::redact(&text)
}

/// `[[v, …], …]`: each row's values, read as parameters are.
unsafe fn read_rows(env: sys::napi_env, rows: sys::napi_value) -> DbResult<Vec<Vec<libsql::Value>>> {
    let mut length = 0;
    napi_call!(sys::napi_get_array_length(env, rows, &mut length));
    let mut all = Vec::with_capacity(length as usize);
    for index in 0..length {
        let mut row = std::ptr::null_mut();
        napi_call!(sys::napi_get_element(env, rows, index, &mut row));
        all.push(match params_from_js(env, row)? {
            Params::Positional(values) => values,
            Params::None => Vec::new(),
            Params::Named(_) => return Err(crate::error::DbError::type_error("each row must be an array of its values")),
        });
    }
    Ok(all)
}
