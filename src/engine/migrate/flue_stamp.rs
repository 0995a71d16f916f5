//! Flue's format stamp (`flue_meta`), as Flue's own libSQL adapter keeps it: a new store is
//! stamped `format_version` 1 in the transaction that creates it; a store stamped 1 opens; the
//! pre-release stamp `schema_version` 8 (the same layout) is renamed; anything else — another
//! or newer version, or `flue_*` tables without a stamp — is refused before anything is read or
//! written.

use libsql::Value;

use crate::error::{DbError, DbResult, ErrorCode};

use super::MigrationTarget;

/// The format version Flue's stores use on disk (`FLUE_FORMAT_VERSION`).
pub const FLUE_FORMAT_VERSION: &str = "1";

/// The pre-release layout that is the same as format 1 and is adopted by renaming its stamp.
const LEGACY_SCHEMA_VERSION: &str = "8";

/// What the stamp says about the store.
#[derive(Debug, PartialEq, Eq)]
pub enum FlueStamp {
    /// No `flue_*` tables yet: stamp it in this transaction.
    New,
    /// Stamped `format_version` 1.
    Current,
    /// Stamped `schema_version` 8: rename the stamp.
    Legacy,
}

pub async fn read(target: &mut impl MigrationTarget) -> DbResult<FlueStamp> {
    let has_meta = !target.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'", Vec::new()).await?.is_empty();
    if has_meta {
        if let Some(stored) = meta_value(target, "format_version").await? {
            return if stored == FLUE_FORMAT_VERSION { Ok(FlueStamp::Current) } else { Err(refused(&stored)) };
        }
        if let Some(legacy) = meta_value(target, "schema_version").await? {
            return if legacy == LEGACY_SCHEMA_VERSION { Ok(FlueStamp::Legacy) } else { Err(refused(&legacy)) };
        }
    }
    let flue_tables = target
        .query(r"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' AND name <> 'flue_meta' LIMIT 1", Vec::new())
        .await?;
    if !flue_tables.is_empty() {
        return Err(refused("unversioned"));
    }
    Ok(FlueStamp::New)
}

async fn meta_value(target: &mut impl MigrationTarget, key: &str) -> DbResult<Option<String>> {
    let rows = target.query("SELECT value FROM flue_meta WHERE key = ?", vec![Value::Text(key.to_owned())]).await?;
    Ok(rows.into_iter().next().and_then(|row| row.into_iter().next()).map(|value| match value {
        Value::Text(text) => text,
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Null => "null".to_owned(),
        Value::Blob(_) => "a blob".to_owned(),
    }))
}

pub async fn write(target: &mut impl MigrationTarget, stamp: FlueStamp) -> DbResult<()> {
    target.exec("CREATE TABLE IF NOT EXISTS flue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").await?;
    let sql = match stamp {
        FlueStamp::Current => return Ok(()),
        FlueStamp::New => "INSERT OR IGNORE INTO flue_meta (key, value) VALUES ('format_version', ?)",
        FlueStamp::Legacy => "UPDATE flue_meta SET key = 'format_version', value = ? WHERE key = 'schema_version'",
    };
    target.query(sql, vec![Value::Text(FLUE_FORMAT_VERSION.to_owned())]).await?;
    Ok(())
}

fn refused(stored: &str) -> DbError {
    let mut err = DbError::libsql(
        ErrorCode::FlueFormatVersion,
        format!(
            "this store is stamped with Flue format '{stored}', and this adapter reads format {FLUE_FORMAT_VERSION} only; \
             nothing was read or written"
        ),
    );
    err.detail = Some(("storedVersion", stored.to_owned()));
    err
}
