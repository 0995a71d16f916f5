//! Versioned schema migrations, and Flue's format-1 stamp — written once, over a
//! `MigrationTarget`, so the native path (`engine.rs`: over our own connection) and a runner
//! that is not ours (`foreign.rs`: driven from JS, statement by statement) apply the same rules
//! and record the same way.
//!
//! A migration set is an ordered list of `{ version, name, sql }` under a set name (`flue`
//! for the built-in Flue schema, anything else for an application's own tables). One
//! `migrate()` is one write transaction (opened by the caller): it checks what is recorded,
//! applies every pending migration, records each (version, name, checksum, time) — or changes
//! nothing at all. The immediate write lock is what makes two processes migrating one database
//! safe: the second waits, then finds the work done.

mod engine;
mod flue_stamp;
mod foreign;

use std::future::Future;

use libsql::Value;
use sha2::{Digest, Sha256};

use crate::error::{DbError, DbResult, ErrorCode};

pub use engine::run;
pub use flue_stamp::FLUE_FORMAT_VERSION;
pub use foreign::{ForeignMigration, Step};

/// The package's own bookkeeping table. Deliberately not `flue_*`: Flue's format rules
/// treat every `flue_*` table as part of its store.
pub const MIGRATIONS_TABLE: &str = "_flue_libsql_migrations";

/// Flue's schema as a migration set, embedded so the native core can create a store alone.
const FLUE_SQL: &[(i64, &str, &str)] = &[(1, "flue_format_1", include_str!("../../../migrations/flue/0001_flue_format_1.sql"))];

/// Flue's schema (set `flue`).
pub fn flue_migrations() -> Vec<Migration> {
    FLUE_SQL.iter().map(|(version, name, sql)| Migration::new(*version, name, sql)).collect()
}

/// Where migrations run: one statement with parameters, or a script without.
pub trait MigrationTarget {
    /// The statement's rows, each as its values in column order.
    fn query(&mut self, sql: &str, params: Vec<Value>) -> impl Future<Output = DbResult<Vec<Vec<Value>>>>;
    fn exec(&mut self, script: &str) -> impl Future<Output = DbResult<()>>;
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
    /// SHA-256 of `sql`, computed once.
    pub checksum: String,
}

impl Migration {
    pub fn new(version: i64, name: &str, sql: &str) -> Migration {
        let digest = Sha256::digest(sql.as_bytes());
        let checksum = digest.iter().map(|b| format!("{b:02x}")).collect();
        Migration { version, name: name.to_owned(), sql: sql.to_owned(), checksum }
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

/// Applies the pending migrations of `set` on `target`, inside the caller's transaction; with
/// `flue_format`, under Flue's stamp rules (read before anything is written, so a refused store
/// is left untouched).
pub async fn apply(target: &mut impl MigrationTarget, set: &str, migrations: &[Migration], flue_format: bool) -> DbResult<MigrationReport> {
    validate(migrations)?;
    if set.is_empty() {
        return Err(DbError::type_error("the migration set name must not be empty"));
    }
    let stamp = if flue_format { Some(flue_stamp::read(target).await?) } else { None };
    target
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
    let recorded = recorded(target, set).await?;
    check_recorded(set, migrations, &recorded)?;

    let mut report = MigrationReport { set: set.to_owned(), ..Default::default() };
    let applied_at = now_millis();
    for migration in migrations.iter().filter(|m| !recorded.iter().any(|(version, _, _)| *version == m.version)) {
        target
            .exec(&migration.sql)
            .await
            .map_err(|err| err.context(&format!("migration {} ('{}') failed, nothing was changed", migration.version, migration.name)))?;
        let record = vec![
            Value::Text(set.to_owned()),
            Value::Integer(migration.version),
            Value::Text(migration.name.clone()),
            Value::Text(migration.checksum.clone()),
            Value::Integer(applied_at),
        ];
        target
            .query(&format!("INSERT INTO {MIGRATIONS_TABLE} (set_name, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)"), record)
            .await?;
        report.applied.push((migration.version, migration.name.clone()));
    }
    report.version = migrations.iter().map(|m| m.version).chain(recorded.iter().map(|r| r.0)).max().unwrap_or(0);
    if let Some(stamp) = stamp {
        flue_stamp::write(target, stamp).await?;
    }
    Ok(report)
}

/// (version, name, checksum) of each migration of `set` the database has recorded.
async fn recorded(target: &mut impl MigrationTarget, set: &str) -> DbResult<Vec<(i64, String, String)>> {
    let rows = target
        .query(&format!("SELECT version, name, checksum FROM {MIGRATIONS_TABLE} WHERE set_name = ? ORDER BY version"), vec![Value::Text(set.to_owned())])
        .await?;
    rows.into_iter()
        .map(|row| match row.as_slice() {
            [Value::Integer(v), Value::Text(n), Value::Text(c)] => Ok((*v, n.clone(), c.clone())),
            _ => Err(DbError::libsql(ErrorCode::MigrationState, format!("{MIGRATIONS_TABLE} holds a malformed row"))),
        })
        .collect()
}

/// Refuses a recorded migration this code does not know, or one whose SQL changed since.
fn check_recorded(set: &str, migrations: &[Migration], recorded: &[(i64, String, String)]) -> DbResult<()> {
    for (version, name, checksum) in recorded {
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(DbError::libsql(
                    ErrorCode::MigrationUnknown,
                    format!(
                        "the database has migration {version} ('{name}') of set '{set}', which this code does not know: \
                         it was migrated by newer code; nothing was changed"
                    ),
                ))
            }
            Some(known) if known.checksum != *checksum => {
                return Err(DbError::libsql(
                    ErrorCode::MigrationChanged,
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
    Ok(())
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
        Migration::new(version, name, sql)
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
        assert_eq!(a.checksum, m(1, "renamed", "CREATE TABLE t (x)").checksum);
        assert_ne!(a.checksum, m(1, "a", "CREATE TABLE t (y)").checksum);
        assert_eq!(a.checksum.len(), 64);
    }
}
