//! Hrana 3 over HTTP: one `POST /v3/pipeline` per call, on kept-alive connections.
//!
//! Every request has a deadline (`requestTimeout`) covering connect, send and the whole
//! answer, so a server that stops answering fails the call instead of hanging it. Transport
//! failures, refused credentials and server faults become errors here, with the server's own
//! words where it gave any; the token never reaches a message.

use std::time::Duration;

use hyper::client::HttpConnector;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Body, Client, Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use libsql_hrana::proto::{PipelineRespBody, StreamRequest};
use serde::Serialize;

use crate::error::{redact, DbError, DbResult, ErrorCode};

use super::tls::{https_connector, tls_failure};
use super::errors::transport::{answer_not_hrana, auth_failed, not_a_server, server_error, timed_out, unreachable};

/// Hrana's pipeline request, borrowing what it sends: the caller keeps its requests to explain
/// a refusal.
#[derive(Serialize)]
struct PipelineRequest<'a> {
    baton: Option<&'a str>,
    requests: &'a [&'a StreamRequest],
}

/// Cloned for each lane of a connection: the clones share one pool of HTTP connections.
#[derive(Clone)]
pub struct HranaHttp {
    client: Client<HttpsConnector<HttpConnector>>,
    /// The server's url (`http(s)://host[:port][/path]`), without a trailing slash.
    base_url: String,
    authorization: Option<HeaderValue>,
    timeout: Duration,
}

impl HranaHttp {
    /// `url` is `http://…`, `https://…` or `libsql://…` (TLS); it names no credentials.
    pub fn new(url: &str, token: Option<&str>, timeout: Duration) -> DbResult<HranaHttp> {
        let base_url = match url.strip_prefix("libsql://") {
            Some(rest) => format!("https://{rest}"),
            None => url.to_owned(),
        };
        let authorization = match token {
            Some(token) => Some(HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                DbError::invalid_option("option `authToken` has characters that cannot be sent in an HTTP header")
            })?),
            None => None,
        };
        // Trust as Node users set it up (tls.rs).
        let connector = https_connector(Some(timeout));
        let client = Client::builder().pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Ok(HranaHttp { client, base_url: base_url.trim_end_matches('/').to_owned(), authorization, timeout })
    }

    /// Sends `requests` on the stream named by `baton` (a new stream when `None`), at the
    /// stream's own `base_url` when the server gave one.
    pub async fn pipeline(
        &self,
        stream_url: Option<&str>,
        baton: Option<&str>,
        requests: &[&StreamRequest],
    ) -> DbResult<PipelineRespBody> {
        let body = serde_json::to_vec(&PipelineRequest { baton, requests })
            .map_err(|err| DbError::libsql(ErrorCode::Internal, format!("could not encode a request: {err}")))?;
        let base = stream_url.map(|url| url.trim_end_matches('/')).unwrap_or(&self.base_url);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{base}/v3/pipeline"))
            .header(CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request
            .body(Body::from(body))
            .map_err(|err| DbError::invalid_option(format!("the url '{}' is not usable: {err}", self.base_url)))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|err| self.transport_error(&err))?;
            let status = response.status();
            let body = hyper::body::to_bytes(response.into_body()).await.map_err(|err| self.transport_error(&err))?;
            Ok::<_, DbError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange).await.map_err(|_| timed_out(&self.base_url, self.timeout))??;
        if !status.is_success() {
            return Err(self.refused(status, &body));
        }
        serde_json::from_slice(&body).map_err(|err| answer_not_hrana(&self.base_url, &err.to_string()))
    }

    fn transport_error(&self, err: &hyper::Error) -> DbError {
        if let Some(failed) = tls_failure(&self.base_url, err) {
            return failed;
        }
        // The chain of causes, each said once (hyper's messages often repeat their source's).
        let mut cause = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(inner) = source {
            let text = inner.to_string();
            if !cause.contains(&text) {
                cause = format!("{cause}: {text}");
            }
            source = inner.source();
        }
        if err.is_incomplete_message() && self.base_url.starts_with("http://") {
            // What a TLS port does with plain HTTP it cannot read.
            cause.push_str(" (if the server's port speaks TLS, use https:// or libsql://)");
        }
        unreachable(&self.base_url, &cause)
    }

    /// A non-2xx answer: credentials, a stream the server no longer has, or a server fault.
    fn refused(&self, status: StatusCode, body: &[u8]) -> DbError {
        let text = String::from_utf8_lossy(body);
        // sqld answers protocol errors as `{"message": …, "code": …}`, others as plain text.
        let (message, code) = match serde_json::from_slice::<libsql_hrana::proto::Error>(body) {
            Ok(error) => (error.message, Some(error.code)),
            Err(_) => (text.trim().chars().take(500).collect::<String>(), None),
        };
        // A stream the server forgot (idle past its timeout) or never had (a baton from before
        // a restart): `STREAM_*` in JSON, or sqld's plain-text "Received an invalid baton".
        let stream_gone = code.as_deref().is_some_and(|code| code.starts_with("STREAM_")) || message.contains("baton");
        match (status, code.as_deref()) {
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => auth_failed(&self.base_url, &status.to_string(), &message),
            _ if stream_gone => DbError::libsql(ErrorCode::StreamExpired, format!("the server no longer has this stream ({status}): {}", redact(&message))),
            (StatusCode::NOT_FOUND, _) => not_a_server(&self.base_url),
            _ => server_error(&self.base_url, &format!("answered {status}: {}", redact(&message))),
        }
    }
}
