//! SQL text before it reaches an engine: how many statements it holds, whether it is
//! transaction control, and which placeholders it has.

pub mod params;
pub mod text;
