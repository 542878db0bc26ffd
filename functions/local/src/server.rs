//! The local server's connection handling: what `axum::serve` does, plus timeouts against
//! slow or idle clients, HTTP upgrades (the chat's WebSocket) and a graceful stop.

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use carpool::http::limits::{RequestTimeout, MAX_HEADER_COUNT};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// hyper refuses a request with more header fields than this itself (`431`, empty body);
/// well above `MAX_HEADER_COUNT` so the JSON `431` from `limits::guard` is what clients see.
/// (hyper's other hard limits, left at their defaults: a request head must fit its ~408 KiB
/// read buffer, and the URI 65,534 bytes: both far above `limits`' 16 KiB and 8 KiB.)
const HYPER_MAX_HEADERS: usize = 4 * MAX_HEADER_COUNT;
/// Pause after an `accept` failure that is not the peer's doing (out of file descriptors):
/// retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header: Duration,
    pub request: Duration,
    pub idle: Duration,
}

/// Held by an upgraded connection (a WebSocket) for as long as it is open: the connection counts
/// as a request in flight, so the header and idle deadlines (meant for HTTP) stay off, and a
/// graceful stop waits for it. Its task ends when `stopping` fires.
#[derive(Clone)]
pub struct ConnectionHold {
    _in_flight: Arc<InFlight>,
    _open: mpsc::Sender<()>,
    stop: watch::Receiver<bool>,
}

impl ConnectionHold {
    /// Resolves once the server is stopping.
    pub async fn stopping(&mut self) {
        stopped(&mut self.stop).await;
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// What `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())` does
/// (handlers still find `ConnectInfo<SocketAddr>`), plus the timeouts it has no settings for,
/// and upgrades (handlers find a `ConnectionHold` to keep). Once `shutdown` resolves: stop
/// accepting, close idle connections, tell upgraded ones to close, let in-flight requests
/// finish (they time out by then at the latest), return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // hyper starts this timer whenever it waits for a request head: on a kept-alive
        // connection that is right after the previous response, so it counts idle time too and
        // cannot tell "idle" from "slow headers". `Deadlines` keeps the two apart; this is only
        // a backstop, never shorter than what `Deadlines` allows.
        .header_read_timeout(timeouts.header + timeouts.idle)
        .max_headers(HYPER_MAX_HEADERS);
    // `stop` tells every connection to wind down; each holds an `open` sender, so the receiver
    // sees the channel close once the last is gone.
    let (stop, stopping) = watch::channel(false);
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let deadlines = Arc::new(Deadlines::new(timeouts));
        let io = TokioIo::new(TimedIo::new(tcp, deadlines.clone()));
        let (app, held_open, stopping_for_requests) = (app.clone(), open.clone(), stopping.clone());
        let service = tower::service_fn(move |mut request: Request<Incoming>| {
            let in_flight = Arc::new(Deadlines::start_request(&deadlines));
            let hold = ConnectionHold {
                _in_flight: in_flight.clone(),
                _open: held_open.clone(),
                stop: stopping_for_requests.clone(),
            };
            request.extensions_mut().insert(ConnectInfo(remote));
            request.extensions_mut().insert(RequestTimeout(timeouts.request));
            request.extensions_mut().insert(hold);
            let app = app.clone();
            async move {
                let _in_flight = in_flight;
                app.oneshot(request).await
            }
        });
        let connection = http.serve_connection(io, TowerToHyperService::new(service)).with_upgrades();
        let (open, mut stop) = (open.clone(), stopping.clone());
        tokio::spawn(async move {
            let _open = open;
            let mut connection = std::pin::pin!(connection);
            let closed = tokio::select! {
                closed = connection.as_mut() => closed,
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = closed {
                tracing::debug!(%remote, error = %e, "connection closed on an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    // In-flight requests end within the request timeout, half-sent heads within the header one.
    let grace = timeouts.request + timeouts.header;
    if tokio::time::timeout(grace, all_closed.recv()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period; dropping them");
    }
}

async fn accept_failed(e: io::Error) {
    // One peer gave up between connect and accept: nothing to wait for.
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    // Typically out of file descriptors: connections closing (timeouts) will free some.
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// When one connection must next make progress, by where it is:
/// - waiting for a request head: the head must be complete `header` after its first byte (for
///   a new connection, after the accept); before that byte it may idle for `idle` after the
///   previous request;
/// - a request in flight: no deadline here (`limits::guard` answers `408` after the request
///   timeout). Once the request's response is handed over, the connection is idle again: a
///   response the client does not read counts as idling.
struct Deadlines {
    header: Duration,
    idle: Duration,
    phase: Mutex<Phase>,
}

struct Phase {
    in_flight: usize,
    head_since: Option<Instant>,
    idle_since: Instant,
}

impl Deadlines {
    fn new(timeouts: Timeouts) -> Self {
        let now = Instant::now();
        Deadlines {
            header: timeouts.header,
            idle: timeouts.idle,
            phase: Mutex::new(Phase { in_flight: 0, head_since: Some(now), idle_since: now }),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next(&self) -> Option<Instant> {
        let phase = self.phase();
        match (phase.in_flight, phase.head_since) {
            (0, Some(since)) => Some(since + self.header),
            (0, None) => Some(phase.idle_since + self.idle),
            _ => None,
        }
    }

    /// Bytes arrived: outside a request, they start the next head.
    fn on_read(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.head_since.is_none() {
            phase.head_since = Some(Instant::now());
        }
    }

    /// A request head was read; the request is in flight until the guard is dropped (its
    /// response handed to hyper, or the request abandoned).
    fn start_request(this: &Arc<Self>) -> InFlight {
        this.phase().in_flight += 1;
        InFlight(this.clone())
    }
}

struct InFlight(Arc<Deadlines>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.in_flight -= 1;
        if phase.in_flight == 0 {
            phase.head_since = None;
            phase.idle_since = Instant::now();
        }
    }
}

/// The TCP stream, failing reads and writes with `TimedOut` once the connection's deadline has
/// passed while it waited on them; hyper then closes the connection.
struct TimedIo {
    tcp: TcpStream,
    deadlines: Arc<Deadlines>,
    timer: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl TimedIo {
    fn new(tcp: TcpStream, deadlines: Arc<Deadlines>) -> Self {
        let timer = Box::pin(tokio::time::sleep(Duration::ZERO));
        TimedIo { tcp, deadlines, timer, armed_for: None }
    }

    /// Called when the stream is not ready: wakes the task at the deadline, and fails once it
    /// has passed.
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(deadline) = self.deadlines.next() else {
            return Ok(());
        };
        if self.armed_for != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed_for = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "client too slow or idle too long"))
            }
            Poll::Pending => Ok(()),
        }
    }

    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.check_deadline(cx) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Pending => this.pending(cx),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.deadlines.on_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_write(cx, buf) {
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_flush(cx) {
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_shutdown(cx) {
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }
}
