//! Hrana 3's WebSocket messages, as far as this client sends and reads them.

use libsql_hrana::proto::{
    self, BatchStreamResp, CloseSqlStreamResp, CloseStreamResp, DescribeStreamResp, ExecuteStreamResp, GetAutocommitStreamResp,
    SequenceStreamResp, StoreSqlStreamResp, StreamRequest, StreamResponse,
};
use serde::{Deserialize, Serialize};

use crate::error::{DbError, DbResult, ErrorCode};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMsg {
    HelloOk {},
    HelloError { error: proto::Error },
    ResponseOk { request_id: i32, response: Response },
    ResponseError { request_id: i32, error: proto::Error },
}

/// `{"type": "request", "request_id", "request"}`.
#[derive(Serialize)]
#[serde(tag = "type", rename = "request")]
pub(super) struct RequestMsg<R> {
    pub request_id: i32,
    pub request: R,
}

/// Opening and closing a stream, which the WebSocket variant asks for as requests of their own
/// (the HTTP variant's `close` is `close_stream` here).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum StreamControl {
    OpenStream { stream_id: i32 },
    CloseStream { stream_id: i32 },
}

/// A request of the HTTP variant as the WebSocket variant sends it: on a stream named by id.
#[derive(Serialize)]
pub(super) struct OnStream<'a> {
    pub stream_id: i32,
    #[serde(flatten)]
    pub request: &'a StreamRequest,
}

/// A request's answer: the HTTP variant's responses, named as the WebSocket variant names them.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Response {
    OpenStream {},
    CloseStream(CloseStreamResp),
    Execute(ExecuteStreamResp),
    Batch(BatchStreamResp),
    Sequence(SequenceStreamResp),
    Describe(DescribeStreamResp),
    StoreSql(StoreSqlStreamResp),
    CloseSql(CloseSqlStreamResp),
    GetAutocommit(GetAutocommitStreamResp),
}


impl Response {
    pub fn into_http(self) -> DbResult<StreamResponse> {
        Ok(match self {
            Response::CloseStream(close) => StreamResponse::Close(close),
            Response::Execute(execute) => StreamResponse::Execute(execute),
            Response::Batch(batch) => StreamResponse::Batch(batch),
            Response::Sequence(sequence) => StreamResponse::Sequence(sequence),
            Response::Describe(describe) => StreamResponse::Describe(describe),
            Response::StoreSql(store) => StreamResponse::StoreSql(store),
            Response::CloseSql(close) => StreamResponse::CloseSql(close),
            Response::GetAutocommit(state) => StreamResponse::GetAutocommit(state),
            Response::OpenStream {} => return Err(DbError::libsql(ErrorCode::ServerError, "the server answered a request with open_stream")),
        })
    }
}

