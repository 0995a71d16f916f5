//! The N-API surface, on top of the executor.

mod database;
mod foreign_migration;
mod statement_functions;
