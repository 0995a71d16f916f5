//! A socket's requests waiting for their answers, and the task that reads the answers and hands
//! each to the request it names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::stream::SplitStream;
use futures::StreamExt;
use libsql_hrana::proto;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

use crate::error::{DbError, DbResult};

use super::super::errors::transport::{answer_not_hrana, auth_failed};
use super::messages::{Response, ServerMsg};
use super::{connection_lost, Socket};

pub(super) type Answer = Result<Response, proto::Error>;

/// The requests of a socket waiting for their answers, shared with its reading task.
pub(super) struct Answers {
    pub url: String,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    by_id: HashMap<i32, oneshot::Sender<Answer>>,
    /// Why the socket ended, once it has: the error of every request still waiting.
    ended: Option<DbError>,
}

impl Answers {
    pub fn new(url: &str) -> Answers {
        Answers { url: url.to_owned(), waiting: Mutex::default() }
    }

    /// Where the answer to request `id` will come; the socket's end, if it has ended.
    pub fn wait_for(&self, id: i32) -> DbResult<oneshot::Receiver<Answer>> {
        let mut waiting = self.waiting.lock().expect("answers lock");
        if let Some(why) = &waiting.ended {
            return Err(why.clone());
        }
        let (sender, receiver) = oneshot::channel();
        waiting.by_id.insert(id, sender);
        Ok(receiver)
    }

    /// Hands an answer to its request; false when no request waits for it.
    fn answer(&self, id: i32, answer: Answer) -> bool {
        match self.waiting.lock().expect("answers lock").by_id.remove(&id) {
            Some(sender) => {
                // Its exchange may have given up (its deadline): the socket is dropped then anyway.
                let _ = sender.send(answer);
                true
            }
            None => false,
        }
    }

    /// The socket ended: every request still waiting fails with `why`.
    pub fn end(&self, why: DbError) {
        let mut waiting = self.waiting.lock().expect("answers lock");
        waiting.by_id.clear();
        waiting.ended.get_or_insert(why);
    }

    pub fn has_ended(&self) -> bool {
        self.waiting.lock().expect("answers lock").ended.is_some()
    }

    pub fn why_ended(&self) -> DbError {
        let ended = self.waiting.lock().expect("answers lock").ended.clone();
        ended.unwrap_or_else(|| connection_lost(&self.url, "it was dropped"))
    }
}

/// The socket's reading task: hands each answer to the request it names, until the socket ends
/// or says something that is not Hrana, which ends it for every request in flight.
pub(super) async fn read_answers(mut source: SplitStream<Socket>, answers: Arc<Answers>) {
    let url = answers.url.as_str();
    let why = loop {
        let message = match source.next().await {
            Some(Ok(message)) => message,
            Some(Err(err)) => break connection_lost(url, &err.to_string()),
            None => break connection_lost(url, "the server closed it"),
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(frame) => {
                let why = frame.map(|frame| frame.reason.into_owned()).filter(|reason| !reason.is_empty());
                break connection_lost(url, &format!("the server closed it{}", why.map(|why| format!(": {why}")).unwrap_or_default()));
            }
            Message::Binary(_) | Message::Frame(_) => break answer_not_hrana(url, "a binary message"),
        };
        let (request_id, answer) = match serde_json::from_str::<ServerMsg>(&text) {
            Err(err) => break answer_not_hrana(url, &err.to_string()),
            Ok(ServerMsg::HelloOk {}) => continue,
            Ok(ServerMsg::HelloError { error }) => break auth_failed(url, "hello_error", &error.message),
            Ok(ServerMsg::ResponseOk { request_id, response }) => (request_id, Ok(response)),
            Ok(ServerMsg::ResponseError { request_id, error }) => (request_id, Err(error)),
        };
        if !answers.answer(request_id, answer) {
            break answer_not_hrana(url, &format!("an answer to request {request_id}, which is not waiting for one"));
        }
    };
    answers.end(why);
}

