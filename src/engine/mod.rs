//! The engine: one open database and its one connection, whichever way the database is
//! reached — a local file or `:memory:` over the libSQL engine's C API, a libSQL server over
//! Hrana, an embedded replica by both (its writes over Hrana, its file kept by the `libsql`
//! crate) — behind one `Connection`, plus
//! migrations over it. It knows nothing of N-API: results leave it as Rust values, or, for
//! local queries, through a `RowSink` the layer above provides.

mod connection;
mod local;
mod migrate;
mod open;
mod ops;
mod remote;
mod replica;

use libsql::Value;

pub use connection::Connection;
pub use replica::CatchUp;
pub use local::{CachedStatement, RowSink, Running};
pub use migrate::{flue_migrations, ForeignMigration, Migration, Step, FLUE_FORMAT_VERSION, MIGRATIONS_TABLE};
pub use ops::{Op, Output};

/// Rows of one statement: column names, and all values row after row.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub values: Vec<Value>,
}

#[derive(Debug, Default)]
pub struct StatementResult {
    pub rows: Rows,
    pub rows_affected: u64,
    pub last_insert_rowid: i64,
}


