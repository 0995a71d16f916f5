//! Versioned schema migrations, and Flue's format-1 stamp.
//!
//! A migration set is an ordered list of `{ version, name, sql }` under a set name (`flue`
//! for the built-in Flue schema, anything else for an application's own tables). One
//! `migrate()` call is one `BEGIN IMMEDIATE` transaction: it checks what is recorded,
//! applies every pending migration, records each (version, name, checksum, time) and
//! commits — or changes nothing at all. The immediate write lock is what makes two
//! processes migrating one file safe: the second waits, then finds the work done.

use sha2::{Digest, Sha256};

use crate::error::{DbError, DbResult};
use crate::session::Session;
use crate::value::BoundParams;
use libsql::Value;

/// The package's own bookkeeping table. Deliberately not `flue_*`: Flue's format rules
/// treat every `flue_*` table as part of its store.
pub const MIGRATIONS_TABLE: &str = "_flue_libsql_migrations";

/// The format version Flue's stores use on disk (`FLUE_FORMAT_VERSION`).
pub const FLUE_FORMAT_VERSION: &str = "1";

/// Flue's schema as a migration set, embedded so the native core can create a store alone.
pub const FLUE_MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "flue_format_1", include_str!("../migrations/flue/0001_flue_format_1.sql"))];

/// The pre-release layout that is the same as format 1 and is adopted by renaming its stamp.
const LEGACY_SCHEMA_VERSION: &str = "8";

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

impl Migration {
    pub fn checksum(&self) -> String {
        let digest = Sha256::digest(self.sql.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Default)]
pub struct MigrationReport {
    pub set: String,
    /// (version, name) of each migration this call applied, in order.
    pub applied: Vec<(i64, String)>,
    /// The highest version recorded after the call (0 when the set is empty).
    pub version: i64,
}

/// What the `flue_meta` stamp says about the store.
#[derive(Debug, PartialEq, Eq)]
enum FlueStamp {
    /// No `flue_*` tables yet: stamp it in this transaction.
    New,
    /// Stamped `format_version` 1.
    Current,
    /// Stamped `schema_version` 8: rename the stamp.
    Legacy,
}

/// Checks a migration list before anything touches the database.
pub fn validate(migrations: &[Migration]) -> DbResult<()> {
    let mut previous = 0;
    for migration in migrations {
        if migration.version <= 0 {
            return Err(DbError::range_error(format!(
                "migration '{}' has version {}; versions are whole numbers from 1",
                migration.name, migration.version
            )));
        }
        if migration.version <= previous {
            return Err(DbError::range_error(format!(
                "migration versions must increase strictly: {} ('{}') comes after {previous}",
                migration.version, migration.name
            )));
        }
        if migration.name.trim().is_empty() {
            return Err(DbError::type_error(format!("migration {} has an empty name", migration.version)));
        }
        previous = migration.version;
    }
    Ok(())
}

pub async fn run(session: &mut Session, set: &str, migrations: &[Migration], flue_format: bool) -> DbResult<MigrationReport> {
    validate(migrations)?;
    if set.is_empty() {
        return Err(DbError::type_error("the migration set name must not be empty"));
    }
    if session.in_transaction() {
        return Err(DbError::libsql("TRANSACTION_STATE", "migrate() cannot run inside an open transaction"));
    }
    session.begin().await?;
    match apply(session, set, migrations, flue_format).await {
        Ok(report) => match session.commit().await {
            Ok(()) => Ok(report),
            Err(err) => {
                session.rollback_if_open().await;
                Err(err)
            }
        },
        Err(err) => {
            session.rollback_if_open().await;
            Err(err)
        }
    }
}

async fn apply(session: &mut Session, set: &str, migrations: &[Migration], flue_format: bool) -> DbResult<MigrationReport> {
    // The stamp is read before anything is written, so a refused store is left untouched.
    let stamp = if flue_format { Some(read_flue_stamp(session).await?) } else { None };

    session
        .exec(&format!(
            "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
               set_name TEXT NOT NULL,
               version INTEGER NOT NULL,
               name TEXT NOT NULL,
               checksum TEXT NOT NULL,
               applied_at INTEGER NOT NULL,
               PRIMARY KEY (set_name, version)
             )"
        ))
        .await?;

    let recorded = session
        .statement(
            &format!("SELECT version, name, checksum FROM {MIGRATIONS_TABLE} WHERE set_name = ? ORDER BY version"),
            BoundParams::Positional(vec![Value::Text(set.to_owned())]),
        )
        .await?
        .rows;
    let recorded: Vec<(i64, String, String)> = recorded
        .values
        .chunks(3)
        .map(|row| match row {
            [Value::Integer(v), Value::Text(n), Value::Text(c)] => Ok((*v, n.clone(), c.clone())),
            _ => Err(DbError::libsql("MIGRATION_STATE", format!("{MIGRATIONS_TABLE} holds a malformed row"))),
        })
        .collect::<DbResult<_>>()?;

    for (version, name, checksum) in &recorded {
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(DbError::libsql(
                    "MIGRATION_UNKNOWN",
                    format!(
                        "the database has migration {version} ('{name}') of set '{set}', which this code does not know: \
                         it was migrated by newer code; nothing was changed"
                    ),
                ))
            }
            Some(known) if known.checksum() != *checksum => {
                return Err(DbError::libsql(
                    "MIGRATION_CHANGED",
                    format!(
                        "migration {version} ('{}') of set '{set}' changed after it was applied (checksum differs); \
                         add a new migration instead of editing an applied one; nothing was changed",
                        known.name
                    ),
                ))
            }
            Some(_) => {}
        }
    }

    let mut report = MigrationReport { set: set.to_owned(), ..Default::default() };
    let applied_at = now_millis();
    for migration in migrations {
        if recorded.iter().any(|(v, _, _)| *v == migration.version) {
            continue;
        }
        session
            .exec(&migration.sql)
            .await
            .map_err(|err| err.context(&format!("migration {} ('{}') failed, nothing was changed", migration.version, migration.name)))?;
        session
            .statement(
                &format!("INSERT INTO {MIGRATIONS_TABLE} (set_name, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)"),
                BoundParams::Positional(vec![
                    Value::Text(set.to_owned()),
                    Value::Integer(migration.version),
                    Value::Text(migration.name.clone()),
                    Value::Text(migration.checksum()),
                    Value::Integer(applied_at),
                ]),
            )
            .await?;
        report.applied.push((migration.version, migration.name.clone()));
    }
    report.version = migrations.iter().map(|m| m.version).chain(recorded.iter().map(|r| r.0)).max().unwrap_or(0);

    if let Some(stamp) = stamp {
        write_flue_stamp(session, stamp).await?;
    }
    Ok(report)
}

async fn read_flue_stamp(session: &mut Session) -> DbResult<FlueStamp> {
    let has_meta = !session
        .statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'", BoundParams::None)
        .await?
        .rows
        .values
        .is_empty();
    if has_meta {
        if let Some(stored) = meta_value(session, "format_version").await? {
            return if stored == FLUE_FORMAT_VERSION { Ok(FlueStamp::Current) } else { Err(format_refused(&stored)) };
        }
        if let Some(legacy) = meta_value(session, "schema_version").await? {
            return if legacy == LEGACY_SCHEMA_VERSION { Ok(FlueStamp::Legacy) } else { Err(format_refused(&legacy)) };
        }
    }
    let has_flue_tables = !session
        .statement(
            r"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' AND name <> 'flue_meta' LIMIT 1",
            BoundParams::None,
        )
        .await?
        .rows
        .values
        .is_empty();
    if has_flue_tables {
        return Err(format_refused("unversioned"));
    }
    Ok(FlueStamp::New)
}

async fn meta_value(session: &mut Session, key: &str) -> DbResult<Option<String>> {
    let rows = session
        .statement("SELECT value FROM flue_meta WHERE key = ?", BoundParams::Positional(vec![Value::Text(key.to_owned())]))
        .await?
        .rows;
    Ok(rows.values.into_iter().next().map(|value| match value {
        Value::Text(text) => text,
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Null => "null".to_owned(),
        Value::Blob(_) => "a blob".to_owned(),
    }))
}

async fn write_flue_stamp(session: &mut Session, stamp: FlueStamp) -> DbResult<()> {
    session.exec("CREATE TABLE IF NOT EXISTS flue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").await?;
    let sql = match stamp {
        FlueStamp::Current => return Ok(()),
        FlueStamp::New => "INSERT OR IGNORE INTO flue_meta (key, value) VALUES ('format_version', ?)",
        FlueStamp::Legacy => "UPDATE flue_meta SET key = 'format_version', value = ? WHERE key = 'schema_version'",
    };
    session.statement(sql, BoundParams::Positional(vec![Value::Text(FLUE_FORMAT_VERSION.to_owned())])).await?;
    Ok(())
}

fn format_refused(stored: &str) -> DbError {
    let mut err = DbError::libsql(
        "FLUE_FORMAT_VERSION",
        format!(
            "this store is stamped with Flue format '{stored}', and this adapter reads format {FLUE_FORMAT_VERSION} only; \
             nothing was read or written"
        ),
    );
    err.detail = Some(("storedVersion", stored.to_owned()));
    err
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: i64, name: &str, sql: &str) -> Migration {
        Migration { version, name: name.into(), sql: sql.into() }
    }

    #[test]
    fn versions_must_increase_from_one() {
        assert!(validate(&[m(1, "a", ""), m(2, "b", "")]).is_ok());
        assert!(validate(&[m(0, "a", "")]).unwrap_err().message.contains("from 1"));
        assert!(validate(&[m(2, "a", ""), m(2, "b", "")]).unwrap_err().message.contains("increase strictly"));
        assert!(validate(&[m(3, "a", ""), m(1, "b", "")]).unwrap_err().message.contains("increase strictly"));
        assert!(validate(&[m(1, " ", "")]).unwrap_err().message.contains("empty name"));
    }

    #[test]
    fn checksum_follows_the_sql_text() {
        let a = m(1, "a", "CREATE TABLE t (x)");
        assert_eq!(a.checksum(), m(1, "renamed", "CREATE TABLE t (x)").checksum());
        assert_ne!(a.checksum(), m(1, "a", "CREATE TABLE t (y)").checksum());
        assert_eq!(a.checksum().len(), 64);
    }
}
