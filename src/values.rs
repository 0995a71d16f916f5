//! SQLite values on the Rust side, as the engine takes and gives them: parameters as the
//! user passed them, columns as SQLite holds them, and which JS number is which SQLite value.
//! Nothing here knows of JavaScript objects (`js/convert.rs` converts).

use libsql::Value;

/// The largest integer a JS number holds exactly; beyond it, integers cross as bigints.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Parameters as the user passed them, converted but not yet matched to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    None,
    Positional(Vec<Value>),
    /// Names without their `:`/`@`/`$` prefix, as JS object keys are written.
    Named(Vec<(String, Value)>),
}

/// A value as SQLite holds it for the current row, or borrowed from an owned `Value`.
#[derive(Clone, Copy)]
pub enum ColumnRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    /// UTF-8 as stored (possibly invalid, if a blob was cast to TEXT).
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl<'a> From<&'a Value> for ColumnRef<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::Null => ColumnRef::Null,
            Value::Integer(n) => ColumnRef::Integer(*n),
            Value::Real(f) => ColumnRef::Real(*f),
            Value::Text(s) => ColumnRef::Text(s.as_bytes()),
            Value::Blob(b) => ColumnRef::Blob(b),
        }
    }
}

/// The SQLite value for a JS number, or what is wrong with it.
pub fn number_to_value(number: f64) -> Result<Value, &'static str> {
    if number.is_nan() {
        return Err("NaN");
    }
    if number.is_infinite() {
        return Err(if number > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if number.fract() == 0.0 && number.abs() <= MAX_SAFE_INTEGER as f64 {
        Ok(Value::Integer(number as i64))
    } else {
        Ok(Value::Real(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_safe_numbers_are_integers() {
        assert_eq!(number_to_value(42.0), Ok(Value::Integer(42)));
        assert_eq!(number_to_value(-0.0), Ok(Value::Integer(0)));
        assert_eq!(number_to_value(MAX_SAFE_INTEGER as f64), Ok(Value::Integer(MAX_SAFE_INTEGER)));
    }

    #[test]
    fn fractional_and_unsafe_numbers_are_reals() {
        assert_eq!(number_to_value(1.5), Ok(Value::Real(1.5)));
        // 2^53 is integral but no longer exact as a JS integer: keep it a REAL rather than
        // pretend it was an exact integer.
        assert_eq!(number_to_value(9007199254740992.0), Ok(Value::Real(9007199254740992.0)));
        assert_eq!(number_to_value(1e300), Ok(Value::Real(1e300)));
    }

    #[test]
    fn non_finite_numbers_are_named() {
        assert_eq!(number_to_value(f64::NAN), Err("NaN"));
        assert_eq!(number_to_value(f64::INFINITY), Err("Infinity"));
        assert_eq!(number_to_value(f64::NEG_INFINITY), Err("-Infinity"));
    }
}
