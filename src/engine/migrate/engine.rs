//! Migrations over our own connection: one `BEGIN IMMEDIATE` transaction around `apply`.

use libsql::Value;

use crate::error::{DbError, DbResult, ErrorCode};
use crate::values::Params;

use super::super::Connection;
use super::{apply, Migration, MigrationReport, MigrationTarget};

pub async fn run<A: Default>(conn: &mut Connection<A>, set: &str, migrations: &[Migration], flue_format: bool) -> DbResult<MigrationReport> {
    if conn.in_transaction() {
        return Err(DbError::libsql(ErrorCode::TransactionState, "migrate() cannot run inside an open transaction"));
    }
    conn.begin().await?;
    let outcome = apply(conn, set, migrations, flue_format).await;
    conn.end_transaction(outcome).await
}

impl<A: Default> MigrationTarget for Connection<A> {
    async fn query(&mut self, sql: &str, params: Vec<Value>) -> DbResult<Vec<Vec<Value>>> {
        let rows = self.statement(sql, Params::Positional(params)).await?.rows;
        let width = rows.columns.len().max(1);
        Ok(rows.values.chunks(width).map(<[Value]>::to_vec).collect())
    }

    async fn exec(&mut self, script: &str) -> DbResult<()> {
        Connection::exec(self, script).await
    }
}
