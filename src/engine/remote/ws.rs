//! Hrana 3 over WebSocket (`ws://`, `wss://`): one kept socket per connection, its requests
//! sent together and answered by id.
//!
//! It answers the same calls as the HTTP transport, so the connection above keeps one logic for
//! both: the stream is named by a baton of our own — the socket's generation and the stream's
//! id — and a baton from a socket that is gone (the server closed it, restarted, or a request
//! on it failed or ran past its deadline) is refused before anything is sent, as sqld refuses a
//! baton it forgot. A stream lives as long as its socket: a new one closes the previous one.
//!
//! Every exchange has a deadline (`requestTimeout`) covering connect, hello, send and every
//! answer; a socket whose exchange failed is dropped, so a late answer never meets a new
//! request. The token travels in the hello message only and never reaches a message of ours.

use std::time::{Duration, Instant};

use futures::{FutureExt, SinkExt, StreamExt};
use libsql_hrana::proto::{
    self, BatchStreamResp, CloseSqlStreamResp, CloseStreamResp, DescribeStreamResp, ExecuteStreamResp, GetAutocommitStreamResp,
    PipelineRespBody, SequenceStreamResp, StoreSqlStreamResp, StreamRequest, StreamResponse, StreamResult,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::error::{redact, DbError, DbResult, ErrorCode};

use super::tls::{client_config, tls_failed, tls_failure};
use super::errors::transport::{answer_not_hrana, auth_failed, not_a_server, server_error, timed_out, unreachable};

const SUBPROTOCOL: &str = "hrana3";

/// A socket idle this long is replaced before its next request rather than trusted: a proxy or
/// load balancer on the way may have dropped it without a word (the HTTP transport's pool
/// forgets idle connections after as long).
const SOCKET_IDLE_LIMIT: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct HranaWs {
    /// `ws(s)://host[:port][/path]`, named in messages.
    url: String,
    token: Option<String>,
    timeout: Duration,
    socket: Option<Live>,
    /// Counts sockets, so a baton names the one its stream lives on.
    generation: u64,
}

/// An open socket and what it holds.
struct Live {
    socket: Socket,
    generation: u64,
    /// Sent with the first requests (Hrana lets the hello travel with them); answered among them.
    hello_pending: bool,
    next_request_id: i32,
    next_stream_id: i32,
    /// The one stream this connection keeps on the socket.
    stream: Option<i32>,
    last_used: Instant,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMsg {
    HelloOk {},
    HelloError { error: proto::Error },
    ResponseOk { request_id: i32, response: Response },
    ResponseError { request_id: i32, error: proto::Error },
}

/// `{"type": "request", "request_id", "request"}`.
#[derive(Serialize)]
#[serde(tag = "type", rename = "request")]
struct RequestMsg<R> {
    request_id: i32,
    request: R,
}

/// Opening and closing a stream, which the WebSocket variant asks for as requests of their own
/// (the HTTP variant's `close` is `close_stream` here).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamControl {
    OpenStream { stream_id: i32 },
    CloseStream { stream_id: i32 },
}

/// A request of the HTTP variant as the WebSocket variant sends it: on a stream named by id.
#[derive(Serialize)]
struct OnStream<'a> {
    stream_id: i32,
    #[serde(flatten)]
    request: &'a StreamRequest,
}

/// A request's answer: the HTTP variant's responses, named as the WebSocket variant names them.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Response {
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

impl HranaWs {
    pub fn new(url: &str, token: Option<&str>, timeout: Duration) -> HranaWs {
        HranaWs { url: url.trim_end_matches('/').to_owned(), token: token.map(str::to_owned), timeout, socket: None, generation: 0 }
    }

    /// Another socket to the same server, connected at its first request (a lane of its own).
    pub fn another(&self) -> HranaWs {
        HranaWs { url: self.url.clone(), token: self.token.clone(), timeout: self.timeout, socket: None, generation: 0 }
    }

    /// Sends `requests` on the stream named by `baton` (a new stream when `None`).
    pub async fn pipeline(&mut self, baton: Option<&str>, requests: &[&StreamRequest]) -> DbResult<PipelineRespBody> {
        self.drop_if_stale();
        let stream = match baton {
            Some(baton) => Some(self.stream_of(baton)?),
            None => None,
        };
        let timeout = self.timeout;
        let exchange = tokio::time::timeout(timeout, self.exchange(stream, requests)).await;
        let outcome = match exchange {
            Ok(outcome) => outcome,
            Err(_) => Err(timed_out(&self.url, timeout)),
        };
        if outcome.is_err() {
            // Answers may still be on their way: the socket cannot carry another request.
            self.socket = None;
        }
        outcome
    }

    /// The stream a baton names, if it lives on the current socket.
    fn stream_of(&self, baton: &str) -> DbResult<i32> {
        let named = baton.split_once('.').and_then(|(generation, stream)| Some((generation.parse::<u64>().ok()?, stream.parse::<i32>().ok()?)));
        match (named, &self.socket) {
            (Some((generation, stream)), Some(live)) if generation == live.generation && live.stream == Some(stream) => Ok(stream),
            _ => Err(DbError::libsql(ErrorCode::StreamExpired, format!("the connection to {} that held this stream is gone", self.url))),
        }
    }

    /// Drops a socket that idled past `SOCKET_IDLE_LIMIT`, or that the server closed (a restart,
    /// an idle limit of its own), which shows without a request: before a request is lost on it.
    fn drop_if_stale(&mut self) {
        let Some(live) = &mut self.socket else { return };
        // Nothing but answers to our requests is expected between exchanges.
        if live.last_used.elapsed() > SOCKET_IDLE_LIMIT || live.socket.next().now_or_never().is_some() {
            self.socket = None;
        }
    }

    async fn exchange(&mut self, stream: Option<i32>, requests: &[&StreamRequest]) -> DbResult<PipelineRespBody> {
        if self.socket.is_none() {
            self.generation += 1;
            let socket = self.connect().await?;
            self.socket = Some(Live { socket, generation: self.generation, hello_pending: true, next_request_id: 0, next_stream_id: 0, stream: None, last_used: Instant::now() });
        }
        let HranaWs { url, token, socket, .. } = self;
        let url = url.as_str();
        let live = socket.as_mut().expect("connected above");

        let mut messages = Vec::with_capacity(requests.len() + 3);
        if live.hello_pending {
            messages.push(json!({ "type": "hello", "jwt": token }).to_string());
        }
        // Request ids run on from here: an answer's id minus this is its place.
        let first_id = live.next_request_id;
        // A new stream replaces the previous one: close it, open the new one, before the requests.
        let mut stream_changes = 0;
        let stream_id = match stream {
            Some(stream_id) => stream_id,
            None => {
                if let Some(previous) = live.stream.take() {
                    live.request(&mut messages, StreamControl::CloseStream { stream_id: previous })?;
                    stream_changes += 1;
                }
                let stream_id = live.next_stream_id;
                live.next_stream_id = live.next_stream_id.wrapping_add(1);
                live.request(&mut messages, StreamControl::OpenStream { stream_id })?;
                stream_changes += 1;
                stream_id
            }
        };
        let mut closes_stream = false;
        for request in requests {
            match request {
                StreamRequest::Close(_) => {
                    closes_stream = true;
                    live.request(&mut messages, StreamControl::CloseStream { stream_id })?;
                }
                request => live.request(&mut messages, OnStream { stream_id, request })?,
            }
        }

        for message in messages {
            live.socket.feed(Message::Text(message)).await.map_err(|err| connection_lost(url, &err.to_string()))?;
        }
        live.socket.flush().await.map_err(|err| connection_lost(url, &err.to_string()))?;

        let mut answers: Vec<Option<Result<Response, proto::Error>>> = (0..stream_changes + requests.len()).map(|_| None).collect();
        let mut waiting = answers.len();
        while waiting > 0 || live.hello_pending {
            let message = match live.socket.next().await {
                Some(Ok(message)) => message,
                Some(Err(err)) => return Err(connection_lost(url, &err.to_string())),
                None => return Err(connection_lost(url, "the server closed it")),
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(frame) => {
                    let why = frame.map(|frame| frame.reason.into_owned()).filter(|reason| !reason.is_empty());
                    return Err(connection_lost(url, &format!("the server closed it{}", why.map(|why| format!(": {why}")).unwrap_or_default())));
                }
                Message::Binary(_) | Message::Frame(_) => return Err(answer_not_hrana(url, "a binary message")),
            };
            let (request_id, result) = match serde_json::from_str::<ServerMsg>(&text).map_err(|err| answer_not_hrana(url, &err.to_string()))? {
                ServerMsg::HelloOk {} => {
                    live.hello_pending = false;
                    continue;
                }
                ServerMsg::HelloError { error } => return Err(auth_failed(url, "hello_error", &error.message)),
                ServerMsg::ResponseOk { request_id, response } => (request_id, Ok(response)),
                ServerMsg::ResponseError { request_id, error } => (request_id, Err(error)),
            };
            let slot = usize::try_from(request_id.wrapping_sub(first_id)).ok().and_then(|index| answers.get_mut(index));
            match slot {
                Some(slot @ None) => {
                    *slot = Some(result);
                    waiting -= 1;
                }
                _ => return Err(answer_not_hrana(url, &format!("an answer to request {request_id}, which is not waiting for one"))),
            }
        }

        let mut answers = answers.into_iter().map(|answer| answer.expect("every request answered"));
        for _ in 0..stream_changes {
            if let Some(Err(error)) = answers.next() {
                return Err(server_error(url, &format!("could not open a new stream: {}", redact(&error.message))));
            }
        }
        let results = answers
            .map(|answer| match answer {
                Ok(response) => response.into_http().map(|response| StreamResult::Ok { response }),
                Err(error) => Ok(StreamResult::Error { error }),
            })
            .collect::<DbResult<Vec<_>>>()?;
        live.stream = (!closes_stream).then_some(stream_id);
        live.last_used = Instant::now();
        let baton = live.stream.map(|stream| format!("{}.{stream}", live.generation));
        Ok(PipelineRespBody { baton, base_url: None, results })
    }

    async fn connect(&self) -> DbResult<Socket> {
        let mut request = self.url.as_str().into_client_request().map_err(|err| DbError::invalid_option(format!("the url '{}' is not usable: {err}", self.url)))?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
        // Answers as large as the HTTP transport takes: no message size limit of the socket's own.
        let config = WebSocketConfig { max_message_size: None, max_frame_size: None, ..WebSocketConfig::default() };
        let tls = self.url.starts_with("wss:").then(tls_connector);
        let (socket, response) = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, tls)
            .await
            .map_err(|err| match err {
                WsError::Http(response) => match response.status() {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => auth_failed(&self.url, &response.status().to_string(), "the WebSocket upgrade was refused"),
                    StatusCode::NOT_FOUND => not_a_server(&self.url),
                    status => server_error(&self.url, &format!("answered {status} to a WebSocket upgrade")),
                },
                WsError::Tls(tokio_tungstenite::tungstenite::error::TlsError::Rustls(err)) => tls_failed(&self.url, &err),
                err => tls_failure(&self.url, &err).unwrap_or_else(|| unreachable(&self.url, &err.to_string())),
            })?;
        let chosen = response.headers().get("Sec-WebSocket-Protocol").and_then(|value| value.to_str().ok());
        if chosen != Some(SUBPROTOCOL) {
            return Err(server_error(&self.url, "does not speak Hrana 3 over WebSocket (use an http:// or https:// url)"));
        }
        Ok(socket)
    }
}

impl Live {
    /// Queues a request message under the next request id.
    fn request(&mut self, messages: &mut Vec<String>, request: impl Serialize) -> DbResult<()> {
        let request_id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1);
        let message = serde_json::to_string(&RequestMsg { request_id, request })
            .map_err(|err| DbError::libsql(ErrorCode::Internal, format!("could not encode a request: {err}")))?;
        messages.push(message);
        Ok(())
    }
}

impl Response {
    fn into_http(self) -> DbResult<StreamResponse> {
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

/// The socket failed after requests went out: the server may have run some of them. sqld also
/// answers some requests it refuses outright by dropping the socket, without a word.
fn connection_lost(url: &str, cause: &str) -> DbError {
    DbError::libsql(
        ErrorCode::ServerUnreachable,
        redact(&format!(
            "lost the connection to the libSQL server at {url} during a request ({cause}): the server went away, or refused the \
             request by closing the socket, as sqld does over WebSocket for a write with a read-only token or for text that is \
             not UTF-8 (an http:// or https:// url gets its reason); a write in it may or may not have been applied"
        )),
    )
}

/// TLS for `wss://`, as for `https://` (tls.rs).
fn tls_connector() -> Connector {
    Connector::Rustls(client_config())
}
