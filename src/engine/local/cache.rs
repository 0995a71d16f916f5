//! Prepared statements kept per local connection, keyed by SQL text.
//!
//! Preparing costs more than running a point query, and the Flue stores run the same few
//! dozen statements over and over. A statement is always reset after use (`local::Running`),
//! so a cached one never holds a read snapshot or a lock.

use crate::error::DbResult;
use crate::sql::text::leading_keyword_is;
use super::connection::{LocalConnection, LocalStatement};

/// SQL texts are hashed on every call; FxHash is several times cheaper than SipHash here, and
/// the keys are the application's own statements, not attacker-chosen.
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Enough for the Flue stores' statements plus an application's hot set.
const CAPACITY: usize = 256;

/// A prepared statement and what the layer above keeps with it between runs (`A`: for the
/// JS layer, the function that turns the statement's values into row objects), dropped with
/// the statement.
pub struct CachedStatement<A> {
    pub statement: LocalStatement,
    pub attachment: A,
    /// A pragma, which may change the connection itself (its journal mode, its sync level).
    pub is_pragma: bool,
    last_used: u64,
}

pub struct StatementCache<A> {
    entries: HashMap<String, CachedStatement<A>>,
    clock: u64,
    /// The pragma prepared last, dropped at the next call: SQLite does a pragma's work as it
    /// prepares it (a level set, the value a read returns), so a kept one would repeat none.
    pragma: Option<String>,
}

impl<A> Default for StatementCache<A> {
    fn default() -> Self {
        StatementCache { entries: HashMap::default(), clock: 0, pragma: None }
    }
}

impl<A: Default> StatementCache<A> {
    /// The cached statement for `sql`, preparing (and checking) it on first use.
    pub fn get(&mut self, conn: &LocalConnection, sql: &str) -> DbResult<&mut CachedStatement<A>> {
        self.clock += 1;
        let now = self.clock;
        if let Some(pragma) = self.pragma.take() {
            self.entries.remove(&pragma);
        }
        if !self.entries.contains_key(sql) {
            let statement = conn.prepare(sql)?;
            if self.entries.len() >= CAPACITY {
                self.evict_least_recently_used();
            }
            let is_pragma = leading_keyword_is(sql, "PRAGMA");
            if is_pragma {
                self.pragma = Some(sql.to_owned());
            }
            self.entries.insert(sql.to_owned(), CachedStatement { statement, attachment: A::default(), is_pragma, last_used: now });
        }
        let entry = self.entries.get_mut(sql).expect("inserted above");
        entry.last_used = now;
        Ok(entry)
    }

    fn evict_least_recently_used(&mut self) {
        if let Some(oldest) = self.entries.iter().min_by_key(|(_, entry)| entry.last_used).map(|(sql, _)| sql.clone()) {
            self.entries.remove(&oldest);
        }
    }

    /// Finalizes every statement (after a script that may have changed the schema).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
