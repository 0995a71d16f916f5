//! What a SQL string holds before it is prepared: nothing, one statement, or several.
//!
//! `prepare` compiles only the first statement of a string and silently ignores the rest,
//! so `query("DELETE FROM a; DELETE FROM b")` would quietly skip the second delete. The
//! runner refuses such strings instead; `exec()` is the way to run a script.

use std::ffi::CString;

use crate::error::{DbError, DbResult};

/// Checks that `sql` holds exactly one statement (a trailing `;` and comments are fine).
pub fn ensure_single_statement(sql: &str) -> DbResult<()> {
    if sql.contains('\0') {
        return Err(nul_in_sql());
    }
    if !has_sql_tokens(sql) {
        return Err(empty_sql());
    }
    if let Some(end) = end_of_first_statement(sql) {
        if has_sql_tokens(&sql[end + 1..]) {
            return Err(several_statements());
        }
    }
    Ok(())
}

pub fn nul_in_sql() -> DbError {
    DbError::type_error("the SQL text contains a NUL character")
}

pub fn empty_sql() -> DbError {
    DbError::sqlite_named("SQLITE_MISUSE", "the SQL text is empty (only whitespace or comments)")
}

pub fn several_statements() -> DbError {
    DbError::sqlite_named(
        "SQLITE_MISUSE",
        "the SQL text holds more than one statement; query()/execute() run one statement, \
         use exec() for a script or batch() for several statements in one transaction",
    )
}

/// The statements of a script, each with its own text (leading comments included), for a
/// runner that takes one statement per call.
pub fn split_statements(script: &str) -> DbResult<Vec<&str>> {
    if script.contains('\0') {
        return Err(nul_in_sql());
    }
    let mut statements = Vec::new();
    let mut rest = script;
    while has_sql_tokens(rest) {
        match end_of_first_statement(rest) {
            Some(end) => {
                statements.push(rest[..=end].trim());
                rest = &rest[end + 1..];
            }
            None => {
                statements.push(rest.trim());
                break;
            }
        }
    }
    Ok(statements)
}

/// Byte index of the `;` that ends the first statement, if any. SQLite's own
/// `sqlite3_complete` decides, so semicolons inside strings, comments and trigger bodies
/// (`CREATE TRIGGER ... BEGIN ...; END;`) do not count.
fn end_of_first_statement(sql: &str) -> Option<usize> {
    sql.match_indices(';').map(|(i, _)| i).find(|&i| {
        // `sql` has no NUL (checked above), so every prefix makes a valid C string.
        let prefix = CString::new(&sql[..=i]).expect("prefix without NUL");
        unsafe { libsql::ffi::sqlite3_complete(prefix.as_ptr()) != 0 }
    })
}

/// Whether `sql` begins, commits or rolls back a transaction (`BEGIN`, `COMMIT`, `END`,
/// `ROLLBACK`; not `ROLLBACK TO` a savepoint). The runner owns transaction boundaries: such a
/// statement through `query()` would leave the connection inside a transaction nobody ends,
/// and through a `tx` it would commit or drop half of `transaction(fn)`'s work.
pub fn is_transaction_control(sql: &str) -> bool {
    // Runs before every statement from JS, so it compares words in place, allocating nothing.
    let mut words = leading_words(sql);
    match words.next() {
        Some(word) if ["BEGIN", "COMMIT", "END"].iter().any(|keyword| word.eq_ignore_ascii_case(keyword)) => true,
        Some(word) if word.eq_ignore_ascii_case("ROLLBACK") => !words.take(3).any(|w| w.eq_ignore_ascii_case("TO")),
        _ => false,
    }
}

/// Whether the first keyword of `sql` is `keyword` (any case).
/// Whether `sql` only reads, by its first keyword (SELECT or VALUES): what a server may run on
/// another connection and an embedded replica may answer from its file. Anything else counts
/// as a write (a CTE may write, a pragma may change the connection).
pub fn reads_only(sql: &str) -> bool {
    leading_keyword_is(sql, "SELECT") || leading_keyword_is(sql, "VALUES")
}

pub fn leading_keyword_is(sql: &str, keyword: &str) -> bool {
    leading_words(sql).next().is_some_and(|word| word.eq_ignore_ascii_case(keyword))
}

/// The leading keywords of `sql`, after whitespace and comments.
fn leading_words(sql: &str) -> impl Iterator<Item = &str> {
    let mut rest = sql;
    std::iter::from_fn(move || {
        rest = skip_blank(rest);
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        let (word, tail) = rest.split_at(end);
        rest = tail;
        Some(word)
    })
}

/// `text` without leading whitespace, comments and semicolons.
fn skip_blank(text: &str) -> &str {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            return rest;
        }
    }
}

/// Whether `text` holds anything but whitespace, comments and stray semicolons.
pub fn has_sql_tokens(text: &str) -> bool {
    !skip_blank(text).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_with_trailing_semicolon_and_comments_is_fine() {
        assert!(ensure_single_statement("SELECT 1").is_ok());
        assert!(ensure_single_statement("SELECT ';' AS x; -- trailing comment\n").is_ok());
        assert!(ensure_single_statement("/* a */ SELECT 1 /* ; */;").is_ok());
        assert!(ensure_single_statement(
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; DELETE FROM b; END;"
        )
        .is_ok());
    }

    #[test]
    fn transaction_control_is_recognized_but_savepoints_are_not() {
        for sql in ["BEGIN", " begin immediate", "/* c */ COMMIT", "END TRANSACTION", "rollback", "ROLLBACK TRANSACTION"] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        for sql in ["ROLLBACK TO sp", "rollback transaction to savepoint sp", "SAVEPOINT sp", "SELECT 'BEGIN'", "BEGINNING"] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
    }

    #[test]
    fn scripts_split_where_sqlite_ends_a_statement() {
        let script = "CREATE TABLE a(x TEXT DEFAULT ';'); -- c;\nCREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM a; END;\n SELECT 1";
        let statements = split_statements(script).unwrap();
        assert_eq!(statements.len(), 3, "{statements:?}");
        assert_eq!(statements[0], "CREATE TABLE a(x TEXT DEFAULT ';');");
        assert!(statements[1].ends_with("END;"));
        assert_eq!(statements[2], "SELECT 1");
        assert!(split_statements("-- nothing\n;").unwrap().is_empty());
    }

    #[test]
    fn empty_and_multi_statement_text_is_refused() {
        assert!(ensure_single_statement("").unwrap_err().message.contains("empty"));
        assert!(ensure_single_statement("  \n\t ").unwrap_err().message.contains("empty"));
        assert!(ensure_single_statement("-- only a comment").unwrap_err().message.contains("empty"));
        assert!(ensure_single_statement("SELECT 1; SELECT 2").unwrap_err().message.contains("more than one"));
        assert!(ensure_single_statement("SELECT 1\0; DROP TABLE x").unwrap_err().message.contains("NUL"));
    }
}
