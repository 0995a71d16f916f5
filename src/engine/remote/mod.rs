//! A connection to a libSQL server (sqld, Turso) over Hrana 3, on HTTP or WebSocket (transport.rs).
//!
//! The connection keeps one stream (its baton) between calls: a new stream costs the server a
//! database connection of its own, measured as the larger part of a write's time on loopback.
//! A kept stream can go stale — idle past the server's stream timeout, or forgotten by a server
//! that restarted — and the server then refuses its baton before running anything; a call
//! outside a transaction then simply runs on a new stream, so a restart or failover costs no
//! call an error. Calls made together (concurrent promises) travel in one request.
//!
//! A transaction runs on the stream from its first statement (which carries its
//! `BEGIN IMMEDIATE`) to COMMIT or ROLLBACK, so a transaction of n statements takes n + 1
//! requests. If the server loses its stream, the transaction is gone (rolled back by the
//! server); the connection then refuses the transaction's further statements until it ends, so
//! no statement meant for it runs outside it.

mod batch;
mod errors;
mod group;
mod hrana;
mod http;
pub mod tls;
mod transport;
mod ws;

use std::time::{Duration, Instant};

use libsql_hrana::proto::{CloseStreamReq, GetAutocommitStreamReq, SequenceStreamReq, StmtResult, StreamRequest, StreamResponse, StreamResult};

use crate::error::{DbError, DbResult, ErrorCode};
use crate::values::Params;

use super::{Rows, StatementResult};
use hrana::{answers, execute_plain, execute_request, executed_stmt, response, unexpected, value_from_server};
use transport::Transport;

/// A call that may travel in one request with others (`RemoteConnection::calls`).
#[derive(Clone)]
pub enum Call {
    Statement { sql: String, params: Params, want_rows: bool },
    Batch(Vec<(String, Params)>),
}

pub enum CallResult {
    Statement(StatementResult),
    Batch(Vec<StatementResult>),
}

pub struct RemoteConnection {
    transport: Transport,
    /// How long a group commit waits for the server's write lock (`busyTimeout`, `group.rs`).
    busy_timeout: Duration,
    stream: Option<Stream>,
    transaction: Transaction,
    /// SQLite reports the last insert of the connection, also after statements that insert
    /// nothing; the server reports it per statement, so the value is kept here.
    last_insert_rowid: i64,
}

struct Stream {
    baton: String,
    /// Where the server wants the stream's next request, when it said.
    url: Option<String>,
    last_used: Instant,
}

enum Transaction {
    None,
    /// `begin()` was called; BEGIN goes out with the first statement.
    Pending,
    /// Open on the kept stream.
    Open,
    /// The server lost the stream (and rolled the transaction back): why, for every later call.
    Lost(DbError),
}

impl RemoteConnection {
    /// Opening sends nothing: the first call finds out whether the server is there.
    pub fn new(url: &str, token: Option<&str>, request_timeout: Duration, busy_timeout: Duration) -> DbResult<RemoteConnection> {
        let transport = Transport::new(url, token, request_timeout)?;
        Ok(RemoteConnection { transport, busy_timeout, stream: None, transaction: Transaction::None, last_insert_rowid: 0 })
    }

    /// Another lane to the same server: its own stream and transaction, the same credentials
    /// and deadline (`executor/pool.rs` runs independent calls on lanes side by side).
    pub fn another(&self) -> RemoteConnection {
        RemoteConnection {
            transport: self.transport.another(),
            busy_timeout: self.busy_timeout,
            stream: None,
            transaction: Transaction::None,
            last_insert_rowid: 0,
        }
    }

    /// Another lane on this one's stream, its requests in flight beside this lane's
    /// (`Transport::pipelined`): `None` where the transport cannot pipeline a stream.
    pub fn pipelined(&self) -> Option<RemoteConnection> {
        Some(RemoteConnection {
            transport: self.transport.pipelined()?,
            busy_timeout: self.busy_timeout,
            stream: None,
            transaction: Transaction::None,
            last_insert_rowid: 0,
        })
    }

    /// Its next request goes out after those of the lanes on its stream that took their turn
    /// before it (`HranaWs::take_turn`); `end_turn` gives the turn up if unused.
    pub fn take_turn(&mut self) {
        self.transport.take_turn();
    }

    pub fn end_turn(&mut self) {
        self.transport.end_turn();
    }

    /// Outside a transaction: the next request starts a new stream (`Connection::forget_stream`).
    /// The server forgets the old one after its idle timeout, or, over WebSocket, when the new
    /// one replaces it.
    pub fn forget_stream(&mut self) {
        if !self.in_transaction() {
            self.stream = None;
        }
    }

    /// The rowid of the last insert this connection made, as SQLite's `last_insert_rowid()`.
    pub fn last_insert_rowid(&self) -> i64 {
        self.last_insert_rowid
    }

    pub fn in_transaction(&self) -> bool {
        !matches!(self.transaction, Transaction::None)
    }

    pub fn begin(&mut self) -> DbResult<()> {
        if self.in_transaction() {
            return Err(DbError::libsql(ErrorCode::TransactionState, "a transaction is already open on this connection"));
        }
        self.transaction = Transaction::Pending;
        Ok(())
    }

    /// Runs one statement; rows are sent back only when `want_rows`.
    pub async fn statement(&mut self, sql: &str, params: Params, want_rows: bool) -> DbResult<StatementResult> {
        let request = execute_request(sql, params, want_rows)?;
        let answer = self.on_stream(&request).await;
        self.executed(answer, &request).await
    }

    /// Calls made together — statements and batches — in one request, in order, as if made one
    /// after another: outside a transaction each statement runs (and commits) on its own and
    /// each batch is all-or-nothing; inside one, statements run in it (and a batch is refused).
    pub async fn calls(&mut self, calls: Vec<Call>) -> Vec<DbResult<CallResult>> {
        let in_transaction = self.in_transaction();
        let prepared: Vec<DbResult<StreamRequest>> = calls
            .into_iter()
            .map(|call| match call {
                Call::Statement { sql, params, want_rows } => execute_request(&sql, params, want_rows),
                Call::Batch(_) if in_transaction => Err(batch::batch_in_transaction()),
                Call::Batch(statements) => batch::batch_request(statements),
            })
            .collect();
        let requests: Vec<&StreamRequest> = prepared.iter().filter_map(|request| request.as_ref().ok()).collect();
        if !in_transaction && group::may_group(&requests) {
            match self.grouped(&requests).await {
                Ok(Some(mut grouped)) => {
                    grouped.reverse();
                    return prepared.into_iter().map(|request| request.and_then(|_| grouped.pop().unwrap_or_else(|| Err(unexpected("call"))))).collect();
                }
                // Lost before anything was committed: each call again, on its own.
                Ok(None) => {}
                Err(err) => return prepared.into_iter().map(|request| request.and(Err(err.clone()))).collect(),
            }
        }
        let mut answers: Vec<DbResult<StreamResponse>> = match self.together_on_stream(&requests).await {
            Ok(answers) => answers,
            Err(err) => requests.iter().map(|_| Err(err.clone())).collect(),
        };
        answers.reverse();
        let mut outcomes = Vec::with_capacity(prepared.len());
        for request in prepared {
            let outcome = match request {
                Err(err) => Err(err),
                Ok(request) => {
                    let answer = answers.pop().unwrap_or_else(|| Err(unexpected("call")));
                    match &request {
                        StreamRequest::Batch(_) => self.batch_answer(answer, &request).await.map(CallResult::Batch),
                        _ => self.executed(answer, &request).await.map(CallResult::Statement),
                    }
                }
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    /// The outcome of an execute request: its result, or the server's refusal said as a local
    /// file says it.
    async fn executed(&mut self, answer: DbResult<StreamResponse>, request: &StreamRequest) -> DbResult<StatementResult> {
        match answer {
            Ok(StreamResponse::Execute(execute)) => Ok(self.statement_result(execute.result)),
            Ok(_) => Err(unexpected("execute")),
            Err(err) => Err(self.explain_refusal(err, executed_stmt(request)).await),
        }
    }

    /// Runs a script of statements without parameters.
    /// One request that only asks the stream's state: proves the server can be reached (and
    /// its TLS trusted), and opens the stream later calls keep.
    pub async fn reach(&mut self) -> DbResult<()> {
        self.outside_transaction(&[&StreamRequest::GetAutocommit(GetAutocommitStreamReq {})]).await.map(|_| ())
    }

    pub async fn exec(&mut self, script: &str) -> DbResult<()> {
        let sequence = StreamRequest::Sequence(SequenceStreamReq { sql: Some(script.to_owned()), sql_id: None, replication_index: None });
        if self.in_transaction() {
            return self.on_stream(&sequence).await.map(|_| ());
        }
        let state = StreamRequest::GetAutocommit(GetAutocommitStreamReq {});
        let mut results = self.outside_transaction(&[&sequence, &state]).await?.into_iter();
        response(results.next())?;
        match response(results.next())? {
            StreamResponse::GetAutocommit(state) if !state.is_autocommit => {
                // Every later transaction would fail on a stream left inside one.
                self.end_on_stream(&execute_plain("ROLLBACK")).await;
                Err(DbError::libsql(
                    ErrorCode::TransactionState,
                    "the script left a transaction open; it was rolled back (end it in the script, or use transaction())",
                ))
            }
            _ => Ok(()),
        }
    }

    pub async fn commit(&mut self) -> DbResult<()> {
        match std::mem::replace(&mut self.transaction, Transaction::None) {
            Transaction::None => Err(DbError::libsql(ErrorCode::TransactionState, "no transaction is open to commit")),
            Transaction::Pending => Ok(()),
            Transaction::Lost(err) => Err(err),
            Transaction::Open => {
                let answer = self.on_kept_stream(&[&execute_plain("COMMIT")]).await.map_err(|err| match err.code {
                    ErrorCode::ServerUnreachable | ErrorCode::RequestTimeout => {
                        err.context("the COMMIT was sent but its outcome is unknown (check before retrying)")
                    }
                    _ => lost_stream(err),
                })?;
                if let Err(err) = response(answer.into_iter().next()) {
                    // A refused COMMIT leaves the transaction open on the stream.
                    self.end_on_stream(&execute_plain("ROLLBACK")).await;
                    return Err(err);
                }
                Ok(())
            }
        }
    }

    /// Ends the transaction, if any, without committing. A failure is not reported: the server
    /// rolls back a stream that it lost, and one that is closed.
    pub async fn rollback(&mut self) {
        if let Transaction::Open = std::mem::replace(&mut self.transaction, Transaction::None) {
            self.end_on_stream(&execute_plain("ROLLBACK")).await;
        }
    }

    /// Closes the kept stream. The server forgets it after its timeout anyway, so `close()`
    /// waits for this at most a second.
    pub async fn close(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.end_on_stream(&StreamRequest::Close(CloseStreamReq {}))).await;
    }

    /// One request, in the transaction if one is open.
    async fn on_stream(&mut self, request: &StreamRequest) -> DbResult<StreamResponse> {
        self.together_on_stream(&[request]).await?.into_iter().next().unwrap_or_else(|| Err(unexpected("request")))
    }

    /// `requests` in one request, in the transaction if one is open; each with its own answer.
    async fn together_on_stream(&mut self, requests: &[&StreamRequest]) -> DbResult<Vec<DbResult<StreamResponse>>> {
        match self.transaction {
            Transaction::None => Ok(answers(self.outside_transaction(requests).await?)),
            _ => self.in_transaction_stream(requests).await,
        }
    }

    /// `requests` in the transaction, each with its own answer: with the transaction's BEGIN
    /// when they are its first, else on its stream. An error for all of them when the
    /// transaction cannot go on.
    async fn in_transaction_stream(&mut self, requests: &[&StreamRequest]) -> DbResult<Vec<DbResult<StreamResponse>>> {
        match std::mem::replace(&mut self.transaction, Transaction::None) {
            Transaction::None => unreachable!("called inside a transaction only"),
            Transaction::Lost(err) => {
                self.transaction = Transaction::Lost(err.clone());
                Err(err)
            }
            Transaction::Pending => {
                // Until it ends, nothing meant for this transaction may run outside it.
                let begin = execute_plain("BEGIN IMMEDIATE");
                let with_begin: Vec<&StreamRequest> = std::iter::once(&begin).chain(requests.iter().copied()).collect();
                // This request commits nothing (the COMMIT comes later), so one lost with its
                // connection — a kept-alive connection a server restart closed as it was sent —
                // is sent once more, on a new connection. Had the server run it, its stream
                // would only hold the write lock until it expires; the new BEGIN waits for it.
                let begun = match self.outside_transaction(&with_begin).await {
                    Err(err) if err.code == ErrorCode::ServerUnreachable => self.outside_transaction(&with_begin).await,
                    begun => begun,
                };
                let begun = begun.map_err(|err| err.context("could not begin the transaction"));
                let results = begun
                    .and_then(|results| {
                        let mut results = results.into_iter();
                        response(results.next()).map_err(|err| err.context("could not begin the transaction"))?;
                        Ok(results.collect())
                    })
                    .inspect_err(|err| self.transaction = Transaction::Lost(err.clone()))?;
                self.transaction = Transaction::Open;
                Ok(answers(results))
            }
            Transaction::Open => match self.on_kept_stream(requests).await {
                Ok(results) => {
                    self.transaction = Transaction::Open;
                    Ok(answers(results))
                }
                Err(err) => {
                    let err = lost_stream(err);
                    self.transaction = Transaction::Lost(err.clone());
                    Err(err)
                }
            },
        }
    }

    /// Requests outside a transaction: on the kept stream while the server still knows it,
    /// else on a new one. A baton the server refuses ran nothing, so the new stream runs it all.
    async fn outside_transaction(&mut self, requests: &[&StreamRequest]) -> DbResult<Vec<StreamResult>> {
        let idle_limit = self.transport.stream_idle_limit();
        if let Some(stream) = self.stream.take().filter(|stream| idle_limit.is_none_or(|limit| stream.last_used.elapsed() < limit)) {
            match self.transport.pipeline(stream.url.as_deref(), Some(&stream.baton), requests).await {
                Ok(answer) => return Ok(self.keep_stream(answer)),
                Err(err) if err.code == ErrorCode::StreamExpired => {}
                Err(err) => return Err(err),
            }
        }
        let answer = self.transport.pipeline(None, None, requests).await?;
        Ok(self.keep_stream(answer))
    }

    /// `requests` on the kept stream, which must be the one the caller's transaction is on.
    async fn on_kept_stream(&mut self, requests: &[&StreamRequest]) -> DbResult<Vec<StreamResult>> {
        let Some(stream) = self.stream.take() else {
            return Err(DbError::libsql(ErrorCode::StreamExpired, "the server closed the transaction's stream"));
        };
        let answer = self.transport.pipeline(stream.url.as_deref(), Some(&stream.baton), requests).await?;
        let results = self.keep_stream(answer);
        if self.stream.is_none() {
            return Err(DbError::libsql(ErrorCode::StreamExpired, "the server closed the transaction's stream"));
        }
        Ok(results)
    }

    /// Best effort: a `request` that ends what the stream holds; the stream is kept if it survives.
    async fn end_on_stream(&mut self, request: &StreamRequest) {
        if let Some(stream) = self.stream.take() {
            if let Ok(answer) = self.transport.pipeline(stream.url.as_deref(), Some(&stream.baton), &[request]).await {
                self.keep_stream(answer);
            }
        }
    }

    fn keep_stream(&mut self, answer: libsql_hrana::proto::PipelineRespBody) -> Vec<StreamResult> {
        self.stream = answer.baton.map(|baton| Stream { baton, url: answer.base_url, last_used: Instant::now() });
        answer.results
    }

    fn statement_result(&mut self, result: StmtResult) -> StatementResult {
        if let Some(rowid) = result.last_insert_rowid {
            self.last_insert_rowid = rowid;
        }
        let columns = result.cols.into_iter().map(|col| col.name.unwrap_or_default()).collect();
        let values = result.rows.into_iter().flat_map(|row| row.values).map(value_from_server).collect();
        StatementResult { rows: Rows { columns, values }, rows_affected: result.affected_row_count, last_insert_rowid: self.last_insert_rowid }
    }
}

/// The transaction cannot go on: its stream is gone (the server rolled back what it held), or
/// the request on it failed. A stream the server lost becomes `TRANSACTION_EXPIRED`; any other
/// failure keeps its own code and words.
fn lost_stream(err: DbError) -> DbError {
    if err.code != ErrorCode::StreamExpired {
        return err.context("the transaction cannot go on and was not committed");
    }
    DbError { code: ErrorCode::TransactionExpired, ..err }.context(
        "the transaction was lost and rolled back by the server (its stream expired after idling past the server's \
         stream timeout, or the server restarted); nothing of it was committed",
    )
}
