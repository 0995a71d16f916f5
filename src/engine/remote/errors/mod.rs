//! What a libSQL server's failures mean, said as this library says them everywhere: a
//! statement the server refused (`statement.rs`), made to read as a local file's error where
//! the server's words differ (`refusal.rs`), and what both transports say the same way when the
//! server cannot be reached, does not answer in time or refuses the credentials (`transport.rs`).

mod refusal;
mod statement;
pub mod transport;

pub use statement::statement_error;
