//! Local databases (files and `:memory:`) over the C API of the engine the `libsql` crate
//! bundles, with a cache of prepared statements.

mod cache;
mod shared_fsync;
mod connection;
mod run;
mod synchronous;

pub use cache::{CachedStatement, StatementCache};
pub use connection::{LocalConnection, Running};
pub use run::{local_statement, run_local, RowSink};
