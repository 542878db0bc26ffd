//! The local server's connections: each WebSocket task registers a channel here and writes what
//! arrives on it to its socket.

use super::{PushError, Pusher};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Frames waiting for one socket. A client that falls this far behind loses frames (and catches
/// up from the history) rather than holding the server's memory.
const BACKLOG: usize = 256;

/// What a socket task is asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Outgoing {
    Frame(String),
    Close,
}

#[derive(Default)]
pub struct LocalPusher {
    sockets: Mutex<HashMap<String, mpsc::Sender<Outgoing>>>,
}

impl LocalPusher {
    /// A new connection: its id (opaque, like API Gateway's) and what to write to it.
    pub fn open(&self) -> (String, mpsc::Receiver<Outgoing>) {
        let id = ulid::Ulid::new().to_string();
        let (tx, rx) = mpsc::channel(BACKLOG);
        self.sockets.lock().expect("sockets lock").insert(id.clone(), tx);
        (id, rx)
    }

    /// The socket closed: later sends to it answer `Gone`.
    pub fn forget(&self, id: &str) {
        self.sockets.lock().expect("sockets lock").remove(id);
    }

    fn socket(&self, id: &str) -> Option<mpsc::Sender<Outgoing>> {
        self.sockets.lock().expect("sockets lock").get(id).cloned()
    }
}

#[async_trait]
impl Pusher for LocalPusher {
    async fn send(&self, connection: &str, frame: &str) -> Result<(), PushError> {
        let socket = self.socket(connection).ok_or(PushError::Gone)?;
        socket.try_send(Outgoing::Frame(frame.to_owned())).map_err(|e| match e {
            mpsc::error::TrySendError::Closed(_) => PushError::Gone,
            mpsc::error::TrySendError::Full(_) => PushError::Failed("the client is not reading".into()),
        })
    }

    async fn close(&self, connection: &str) -> Result<(), PushError> {
        if let Some(socket) = self.socket(connection) {
            // A full backlog: the socket task is stuck writing; forgetting it ends the task's
            // channel, which closes the socket too.
            if socket.try_send(Outgoing::Close).is_err() {
                self.forget(connection);
            }
        }
        Ok(())
    }
}
