//! flue-libsql's native core: a libSQL runner for Node.js (query / transaction / close),
//! with migrations, exposed through N-API. The TypeScript layer in `lib/` wraps it with the
//! promise-level API and Flue's stores.

// Unit tests build without the napi registration glue, so the exported functions look unused there.
#![cfg_attr(test, allow(dead_code))]

mod database;
mod error;
mod local;
mod migrate;
mod options;
mod output;
mod params;
mod remote;
mod session;
mod sql_text;
mod statement_cache;
mod statement_functions;
mod value;
