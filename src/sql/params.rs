//! Matching the user's parameters to a statement's placeholders, so that a wrong count or an
//! unknown name is an error instead of a silently NULL-bound placeholder.
//!
//! Local statements know their placeholders once prepared. A libSQL server checks them
//! itself, in words of its own; when it refuses a statement's arguments, the placeholders read
//! from the SQL text (`SqlPlaceholders`, numbered as SQLite numbers them) give the same
//! error a local file gives.

use libsql::Value;

use crate::error::{DbError, DbResult};
use crate::values::Params;

/// A statement's placeholders as SQLite numbers them (1-based).
pub trait Placeholders {
    fn count(&self) -> usize;
    /// `:name`, `@name`, `$name` or `?NNN`; `None` for a bare `?`.
    fn name(&self, index: usize) -> Option<&str>;
}

/// The parameter values in placeholder order.
pub fn match_parameters(statement: &impl Placeholders, params: Params) -> DbResult<Vec<Value>> {
    let expected = statement.count();
    match params {
        Params::None if expected == 0 => Ok(Vec::new()),
        Params::None => Err(DbError::range_error(format!(
            "the statement has {expected} parameter{} but no params were given",
            plural(expected)
        ))),
        Params::Positional(values) => {
            if values.len() != expected {
                return Err(DbError::range_error(format!(
                    "the statement has {expected} parameter{} but {} were given",
                    plural(expected),
                    values.len()
                )));
            }
            Ok(values)
        }
        Params::Named(mut pairs) => {
            let mut values = Vec::with_capacity(expected);
            for index in 1..=expected {
                let Some(name) = statement.name(index) else {
                    return Err(DbError::type_error(format!(
                        "parameter {index} is a positional ? placeholder; pass params as an array, or name every placeholder"
                    )));
                };
                let bare = &name[1..];
                let found = pairs.iter().position(|(key, _)| key == bare || key == name);
                match found {
                    Some(at) => values.push(pairs.swap_remove(at).1),
                    // The same name may appear twice in the SQL (`:a ... :a` binds one slot),
                    // and SQLite reports each distinct name once, so a miss here is real.
                    None => {
                        return Err(DbError::range_error(format!("missing named parameter `{bare}` (for {name})")))
                    }
                }
            }
            if let Some((unknown, _)) = pairs.first() {
                return Err(DbError::range_error(format!("unknown named parameter `{unknown}`: the statement has no :{unknown}, @{unknown} or ${unknown}")));
            }
            Ok(values)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The placeholders of a SQL text, found by scanning it as SQLite's tokenizer does: string
/// literals, quoted identifiers and comments hold none.
pub struct SqlPlaceholders {
    names: Vec<Option<String>>,
}

impl SqlPlaceholders {
    pub fn scan(sql: &str) -> SqlPlaceholders {
        let bytes = sql.as_bytes();
        let mut names: Vec<Option<String>> = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                quote @ (b'\'' | b'"' | b'`') => i = end_of_quoted(bytes, i, quote),
                b'[' => i = bytes[i..].iter().position(|&b| b == b']').map_or(bytes.len(), |end| i + end + 1),
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    i = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |end| i + end + 1)
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i = sql[i + 2..].find("*/").map_or(bytes.len(), |end| i + 2 + end + 2)
                }
                b'?' => {
                    let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                    if digits == 0 {
                        names.push(None);
                    } else {
                        let number: usize = sql[i + 1..=i + digits].parse().unwrap_or(usize::MAX);
                        let name = sql[i..=i + digits].to_owned();
                        if number > names.len() && number < 32_767 {
                            names.resize(number, None);
                        }
                        if let Some(slot) = names.get_mut(number.wrapping_sub(1)) {
                            *slot = Some(name);
                        }
                    }
                    i += 1 + digits;
                }
                b':' | b'@' | b'$' => {
                    let length = bytes[i + 1..].iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80).count();
                    if length > 0 {
                        let name = &sql[i..=i + length];
                        if !names.iter().any(|known| known.as_deref() == Some(name)) {
                            names.push(Some(name.to_owned()));
                        }
                    }
                    i += 1 + length;
                }
                _ => i += 1,
            }
        }
        SqlPlaceholders { names }
    }
}

/// The index just past a quoted run starting at `start` (a doubled quote stays inside).
fn end_of_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

impl Placeholders for SqlPlaceholders {
    fn count(&self) -> usize {
        self.names.len()
    }

    fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index - 1).and_then(|name| name.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(sql: &str) -> Vec<Option<String>> {
        SqlPlaceholders::scan(sql).names
    }

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(scanned("SELECT ?, ?"), vec![None, None]);
        assert_eq!(scanned("SELECT :a, @b, $c, :a"), vec![Some(":a".into()), Some("@b".into()), Some("$c".into())]);
        assert_eq!(scanned("SELECT ?3, ?"), vec![None, None, Some("?3".into()), None]);
        assert_eq!(scanned("SELECT ?, :x"), vec![None, Some(":x".into())]);
    }

    #[test]
    fn literals_identifiers_and_comments_hold_no_placeholders() {
        assert!(scanned("SELECT '?', ':a', \"@b\", `$c`, [?] -- ?\n /* :d */").is_empty());
        assert_eq!(scanned("SELECT 'it''s ?', ?"), vec![None]);
    }

    #[test]
    fn mismatches_read_as_locally() {
        let err = match_parameters(&SqlPlaceholders::scan("SELECT ?"), Params::Named(vec![("a".into(), Value::Null)]));
        assert!(err.unwrap_err().message.contains("positional ? placeholder"));
        let err = match_parameters(&SqlPlaceholders::scan("SELECT :a, :b"), Params::Named(vec![("a".into(), Value::Null)]));
        assert!(err.unwrap_err().message.contains("missing named parameter `b`"));
    }
}
