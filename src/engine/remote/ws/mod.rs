//! Hrana 3 over WebSocket (`ws://`, `wss://`): one kept socket per lane, its requests answered
//! by id.
//!
//! It answers the same calls as the HTTP transport, so the connection above keeps one logic for
//! both: the stream is named by a baton of our own — the socket's generation and the stream's
//! id — and a baton from a socket that is gone (the server closed it, restarted, or a request
//! on it failed or ran past its deadline) is refused before anything is sent, as sqld refuses a
//! baton it forgot. A stream lives as long as its socket: a new one closes the previous one.
//!
//! Requests do not wait for each other's answers: a task of the socket's own reads every answer
//! and hands it to the request it names. So lanes that share a socket (`pipelined`) have
//! several requests in flight on one stream, which the server runs one after another, in the
//! order they arrived, on its one connection (the writer's pipeline, `executor/pool.rs`).
//!
//! Every exchange has a deadline (`requestTimeout`) covering connect, hello, send and every
//! answer; a socket whose exchange failed is dropped (with whatever else was in flight on it), so
//! a late answer never meets a new request. The token travels in the hello message only and
//! never reaches a message of ours.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use libsql_hrana::proto::{PipelineRespBody, StreamRequest, StreamResult};
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::error::{redact, DbError, DbResult, ErrorCode};

mod answers;
mod messages;
mod turns;

use answers::{read_answers, Answers};
use messages::{OnStream, RequestMsg, StreamControl};
use turns::TurnOrder;

use super::tls::{client_config, tls_failed, tls_failure};
use super::errors::transport::{auth_failed, not_a_server, server_error, timed_out, unreachable};

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
    link: Arc<Link>,
    /// This lane's place in the order its next request goes out in, among the lanes on the
    /// socket (`take_turn`).
    turn: Option<u64>,
}

/// A lane's socket, or the one socket of the lanes that pipeline on it.
struct Link {
    /// Locked while a request is sent, not while its answer is awaited.
    slot: tokio::sync::Mutex<Slot>,
    /// Lanes pipeline on this socket: a lane without a stream joins the socket's stream instead
    /// of replacing it.
    shared: AtomicBool,
    turns: TurnOrder,
}

struct Slot {
    live: Option<Live>,
    /// Counts sockets, so a baton names the one its stream lives on.
    generation: u64,
}

/// An open socket: its sending half, and the task reading its answers.
struct Live {
    sink: SplitSink<Socket, Message>,
    answers: Arc<Answers>,
    reader: JoinHandle<()>,
    generation: u64,
    /// Sent with the first requests (Hrana lets the hello travel with them).
    hello_sent: bool,
    next_request_id: i32,
    next_stream_id: i32,
    /// The one stream this socket keeps.
    stream: Option<i32>,
    last_used: Instant,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.reader.abort();
        // Requests still in flight on it (other lanes' when it is shared) fail now, not at their deadline.
        self.answers.end(connection_lost(&self.answers.url, "it was dropped after another request on it failed"));
    }
}

impl HranaWs {
    pub fn new(url: &str, token: Option<&str>, timeout: Duration) -> HranaWs {
        HranaWs { url: url.trim_end_matches('/').to_owned(), token: token.map(str::to_owned), timeout, link: Link::new(), turn: None }
    }

    /// Another socket to the same server, connected at its first request (a lane of its own).
    pub fn another(&self) -> HranaWs {
        HranaWs { url: self.url.clone(), token: self.token.clone(), timeout: self.timeout, link: Link::new(), turn: None }
    }

    /// Another lane on this one's socket and stream: its requests go out without waiting for
    /// this lane's answers, and the server runs them in the order they arrive.
    pub fn pipelined(&self) -> HranaWs {
        self.link.shared.store(true, Ordering::Relaxed);
        HranaWs { url: self.url.clone(), token: self.token.clone(), timeout: self.timeout, link: self.link.clone(), turn: None }
    }

    /// Takes this lane's place in the order of the socket's requests: its next request goes out
    /// after those of lanes that took theirs before, before those of lanes that take theirs
    /// after. Taken when a job is handed to the lane, in the order jobs are handed on.
    pub fn take_turn(&mut self) {
        self.end_turn();
        self.turn = Some(self.link.turns.issue());
    }

    /// Gives up a turn this lane did not use (its job sent nothing, or only after failing).
    pub fn end_turn(&mut self) {
        if let Some(turn) = self.turn.take() {
            self.link.turns.end(turn);
        }
    }

    /// Sends `requests` on the stream named by `baton` (a new stream when `None`, or the
    /// socket's stream for a lane that shares it).
    pub async fn pipeline(&mut self, baton: Option<&str>, requests: &[&StreamRequest]) -> DbResult<PipelineRespBody> {
        let mut sent_on = None;
        let mut turn = self.turn.take();
        let outcome = match tokio::time::timeout(self.timeout, self.exchange(baton, requests, &mut turn, &mut sent_on)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(timed_out(&self.url, self.timeout)),
        };
        if let Some(unused) = turn {
            match &outcome {
                // Refused before anything was sent (a baton of a socket that is gone): the
                // request goes again on a new stream, in the same turn.
                Err(err) if err.code == ErrorCode::StreamExpired => self.turn = Some(unused),
                _ => self.link.turns.end(unused),
            }
        }
        if let (Err(_), Some(generation)) = (&outcome, sent_on) {
            // Answers may still be on their way: the socket cannot carry another request.
            let mut slot = self.link.slot.lock().await;
            if slot.live.as_ref().is_some_and(|live| live.generation == generation) {
                slot.live = None;
            }
        }
        outcome
    }

    async fn exchange(&self, baton: Option<&str>, requests: &[&StreamRequest], turn: &mut Option<u64>, sent_on: &mut Option<u64>) -> DbResult<PipelineRespBody> {
        let url = self.url.as_str();
        if let Some(turn) = *turn {
            self.link.turns.wait_for(turn).await;
        }
        let (receivers, stream_changes, baton, answers) = {
            let mut slot = self.link.slot.lock().await;
            // Idle too long, or closed by the server (a restart, an idle limit of its own), which
            // its reader saw without a request: replaced before a request is lost on it.
            if slot.live.as_ref().is_some_and(|live| live.last_used.elapsed() > SOCKET_IDLE_LIMIT || live.answers.has_ended()) {
                slot.live = None;
            }
            let stream = baton.map(|baton| slot.stream_of(baton, url)).transpose()?;
            if slot.live.is_none() {
                slot.generation += 1;
                let (sink, source) = self.connect().await?.split();
                let answers = Arc::new(Answers::new(&self.url));
                let reader = tokio::spawn(read_answers(source, answers.clone()));
                let generation = slot.generation;
                slot.live = Some(Live { sink, answers, reader, generation, hello_sent: false, next_request_id: 0, next_stream_id: 0, stream: None, last_used: Instant::now() });
            }
            let live = slot.live.as_mut().expect("connected above");
            *sent_on = Some(live.generation);

            let mut messages = Vec::with_capacity(requests.len() + 3);
            if !live.hello_sent {
                messages.push(json!({ "type": "hello", "jwt": self.token }).to_string());
                live.hello_sent = true;
            }
            let first_id = live.next_request_id;
            // A new stream replaces the previous one: close it, open the new one, before the requests.
            let mut stream_changes = 0;
            let stream_id = match (stream, live.stream) {
                (Some(stream_id), _) => stream_id,
                (None, Some(stream_id)) if self.link.shared.load(Ordering::Relaxed) => stream_id,
                (None, previous) => {
                    if let Some(previous) = previous {
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
            // Waiting before they are sent: an answer can come back before the last is written.
            let receivers = (0..stream_changes + requests.len())
                .map(|index| live.answers.wait_for(first_id.wrapping_add(index as i32)))
                .collect::<DbResult<Vec<_>>>()?;
            for message in messages {
                live.sink.feed(Message::Text(message)).await.map_err(|err| connection_lost(url, &err.to_string()))?;
            }
            live.sink.flush().await.map_err(|err| connection_lost(url, &err.to_string()))?;
            if let Some(turn) = turn.take() {
                self.link.turns.end(turn);
            }
            live.stream = (!closes_stream).then_some(stream_id);
            live.last_used = Instant::now();
            let baton = live.stream.map(|stream| format!("{}.{stream}", live.generation));
            (receivers, stream_changes, baton, live.answers.clone())
        };

        let mut answers_in_order = Vec::with_capacity(receivers.len());
        for receiver in receivers {
            match receiver.await {
                Ok(answer) => answers_in_order.push(answer),
                Err(_) => return Err(answers.why_ended()),
            }
        }
        let mut answers_in_order = answers_in_order.into_iter();
        for _ in 0..stream_changes {
            if let Some(Err(error)) = answers_in_order.next() {
                return Err(server_error(url, &format!("could not open a new stream: {}", redact(&error.message))));
            }
        }
        let results = answers_in_order
            .map(|answer| match answer {
                Ok(response) => response.into_http().map(|response| StreamResult::Ok { response }),
                Err(error) => Ok(StreamResult::Error { error }),
            })
            .collect::<DbResult<Vec<_>>>()?;
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

impl Link {
    fn new() -> Arc<Link> {
        Arc::new(Link { slot: tokio::sync::Mutex::new(Slot { live: None, generation: 0 }), shared: AtomicBool::new(false), turns: TurnOrder::default() })
    }
}

impl Slot {
    /// The stream a baton names, if it lives on the current socket.
    fn stream_of(&self, baton: &str, url: &str) -> DbResult<i32> {
        let named = baton.split_once('.').and_then(|(generation, stream)| Some((generation.parse::<u64>().ok()?, stream.parse::<i32>().ok()?)));
        match (named, &self.live) {
            (Some((generation, stream)), Some(live)) if generation == live.generation && live.stream == Some(stream) => Ok(stream),
            _ => Err(DbError::libsql(ErrorCode::StreamExpired, format!("the connection to {url} that held this stream is gone"))),
        }
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
