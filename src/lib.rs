//! flue-libsql's native core: a libSQL runner for Node.js (query / transaction / close),
//! with migrations, exposed through N-API. The TypeScript layer in `lib/` wraps it with the
//! promise-level API and Flue's stores.
//!
//! Layers, each importing only from those above it in this list:
//! `error` (no JS) · `options`, `values`, `sql` (urls, values, SQL text) · `engine` (local,
//! remote and replica connections, migrations; no N-API) · `js` (values in and out, errors to
//! JS, row builders) · `executor` (where and in which order operations run) · `api` (the N-API
//! surface).

// Unit tests build without the napi registration glue, so the exported functions look unused there.
#![cfg_attr(test, allow(dead_code))]

mod api;
mod engine;
mod error;
mod executor;
mod js;
mod options;
mod sql;
mod values;
