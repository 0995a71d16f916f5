//! The two ways to speak Hrana to a server — over HTTP (`http.rs`) and over WebSocket (`ws.rs`)
//! — behind one call (the errors both say the same way are in `errors/transport.rs`).
//!
//! Both send a stream's requests together and answer them in order, naming the stream by a
//! baton; the connection above (`mod.rs`) keeps its stream, transactions and recovery the same
//! whichever carries them.

use std::time::Duration;

use libsql_hrana::proto::{PipelineRespBody, StreamRequest};

use crate::error::DbResult;

use super::http::HranaHttp;
use super::ws::HranaWs;

/// How long an HTTP stream is trusted to still be known to the server. sqld forgets a stream
/// after 10 s idle; a call on a forgotten one costs a refused request before the new stream.
const HTTP_STREAM_IDLE_LIMIT: Duration = Duration::from_secs(5);

pub enum Transport {
    Http(HranaHttp),
    WebSocket(HranaWs),
}

impl Transport {
    /// `ws://` and `wss://` urls speak over WebSocket; `http://`, `https://` and `libsql://` over HTTP.
    pub fn new(url: &str, token: Option<&str>, timeout: Duration) -> DbResult<Transport> {
        if url.starts_with("ws://") || url.starts_with("wss://") {
            return Ok(Transport::WebSocket(HranaWs::new(url, token, timeout)));
        }
        Ok(Transport::Http(HranaHttp::new(url, token, timeout)?))
    }

    /// A transport for another lane of the same connection: over HTTP it shares this one's
    /// pool of connections (one per request in flight), over WebSocket it has a socket of its own.
    pub fn another(&self) -> Transport {
        match self {
            Transport::Http(http) => Transport::Http(http.clone()),
            Transport::WebSocket(ws) => Transport::WebSocket(ws.another()),
        }
    }

    /// A lane that shares this one's stream and pipelines its requests on it: over WebSocket.
    /// `None` over HTTP, where each answer carries the baton the stream's next request needs.
    pub fn pipelined(&self) -> Option<Transport> {
        match self {
            Transport::Http(_) => None,
            Transport::WebSocket(ws) => Some(Transport::WebSocket(ws.pipelined())),
        }
    }

    /// Takes this lane's place in the order its socket's lanes send in (`HranaWs::take_turn`);
    /// nothing to order over HTTP, where lanes do not share a stream.
    pub fn take_turn(&mut self) {
        if let Transport::WebSocket(ws) = self {
            ws.take_turn();
        }
    }

    /// Gives up a turn taken and not used.
    pub fn end_turn(&mut self) {
        if let Transport::WebSocket(ws) = self {
            ws.end_turn();
        }
    }

    /// Sends `requests` on the stream named by `baton` (a new stream when `None`); a baton the
    /// server (or the socket) no longer has is refused with `STREAM_EXPIRED` before anything ran.
    pub async fn pipeline(&mut self, stream_url: Option<&str>, baton: Option<&str>, requests: &[&StreamRequest]) -> DbResult<PipelineRespBody> {
        match self {
            Transport::Http(http) => http.pipeline(stream_url, baton, requests).await,
            Transport::WebSocket(ws) => ws.pipeline(baton, requests).await,
        }
    }

    /// How long a stream may idle before the server may have forgotten it; none for a
    /// WebSocket stream, which lives as long as its socket.
    pub fn stream_idle_limit(&self) -> Option<Duration> {
        match self {
            Transport::Http(_) => Some(HTTP_STREAM_IDLE_LIMIT),
            Transport::WebSocket(_) => None,
        }
    }
}
