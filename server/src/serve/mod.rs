//! The accept loop: HTTP/1.1 over hyper, with the bounds `axum::serve` does not have.
//!
//! - A request head must arrive whole within the header timeout of its first byte (or of the
//!   accept); a keep-alive connection with no request is closed after the idle timeout.
//! - A request body must keep coming: no pause longer than the stall timeout, and no slower on
//!   average than the floor rate once the stall timeout has passed; a body that does not is cut
//!   with its connection.
//! - A response must keep going out: a write to the socket that makes no progress for the write
//!   timeout (a client that does not read its answer, or a desk that stopped reading its live
//!   stream) closes the connection.
//! - At most `max_connections` are open. When the cap is reached the oldest connection with no
//!   request in flight is closed to make room (so idle and slow-header connections cannot keep
//!   anyone out); if every connection is busy the newcomer gets a fast `503 busy` and is closed,
//!   or, past a small number of those at once, is closed at once.
//! - An accept that fails for want of file descriptors pauses the loop briefly instead of
//!   spinning.
//!
//! Nothing here looks at the client's address.

mod body;
mod conn;
pub mod files;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower_service::Service as _;

pub use body::{BodyPace, TooSlow};
use body::{BusyBody, PacedBody};
use conn::{BusyGuard, Registry, Tracked};

/// Largest request head (request line and headers), in bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in a request.
const MAX_HEADERS: usize = 64;
/// Fast 503 answers being written at once; newcomers past this are closed without a word.
const OVERFLOW_ANSWERS: usize = 64;
/// How long a fast 503 answer may take to write.
const OVERFLOW_WRITE: Duration = Duration::from_secs(1);
/// Pause after an accept failed for want of descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The bounds of the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time for a request head to arrive whole, from its first byte (or from the accept).
    pub header_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How fast request bodies must come.
    pub body: BodyPace,
    /// Time a write of a response may wait for the client to take its bytes.
    pub write_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// After shutdown begins, how long open connections get to finish before they are dropped.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            body: BodyPace {
                stall: Duration::from_secs(15),
                min_rate: 1024,
            },
            write_timeout: Duration::from_secs(30),
            max_connections: files::DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The answer to a connection that finds every slot busy.
fn busy_answer() -> Vec<u8> {
    let body = serde_json::json!({
        "error": tipline_core::api::code::BUSY,
        "message": "the server is at its connection limit; retry shortly",
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether an accept error means the process or the system ran out of something (descriptors,
/// memory), as opposed to one connection failing.
fn is_exhaustion(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(23 | 24 | 55 | 105 | 12))
}

/// Connections the kernel keeps waiting for the accept loop (tokio's `bind` asks for 1,024;
/// Linux caps it at `net.core.somaxconn`, 4,096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `address` with a backlog of [`LISTEN_BACKLOG`]: a burst of connections (a flood,
/// or a surge of genuine ones) waits in the kernel for the accept loop instead of being dropped
/// half-open, where a client believes it connected and the server never saw it.
pub fn listen(address: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As tokio's `bind` does on Unix: a restarted server can listen again at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `router` on `listener` within `options` until `shutdown` resolves, then lets open
/// connections finish (within `options.shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let registry = Arc::new(Registry::default());
    let overflow = Arc::new(Semaphore::new(OVERFLOW_ANSWERS));
    let busy = Arc::new(busy_answer());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // The head's own timeout is the connection watchdog's (it also covers idle connections).
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    let mut exhaustion_logged = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let tcp = match accepted {
            Ok((tcp, _address)) => tcp,
            Err(e) if is_exhaustion(&e) => {
                if !exhaustion_logged {
                    tracing::warn!(error = %e, "cannot accept connections; pausing (logged once)");
                    exhaustion_logged = true;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        // Failing to set the option only costs latency; the connection still works. Desk
        // streams write small events that must go out at once.
        let _ = tcp.set_nodelay(true);
        let Some((id, conn)) = registry.admit(options.max_connections) else {
            refuse(tcp, &overflow, &busy);
            continue;
        };
        let task = Connection {
            http: Arc::clone(&http),
            router: router.clone(),
            options,
            registry: Arc::clone(&registry),
            stop: stop_rx.clone(),
        };
        tokio::spawn(task.run(tcp, id, conn));
    }
    drop(listener);
    stop_tx.send_replace(true);
    if tokio::time::timeout(options.shutdown_grace, registry.wait_empty())
        .await
        .is_err()
    {
        tracing::info!(
            open = registry.len(),
            "connections still open at the end of the grace"
        );
    }
    Ok(())
}

/// Answers a connection that finds no room with a fast 503, or closes it if too many such
/// answers are being written already.
fn refuse(mut tcp: TcpStream, overflow: &Arc<Semaphore>, busy: &Arc<Vec<u8>>) {
    let Ok(permit) = Arc::clone(overflow).try_acquire_owned() else {
        return;
    };
    let busy = Arc::clone(busy);
    tokio::spawn(async move {
        let _ = tokio::time::timeout(OVERFLOW_WRITE, async {
            tcp.write_all(&busy).await?;
            tcp.shutdown().await
        })
        .await;
        drop(permit);
    });
}

/// One connection's task.
struct Connection {
    http: Arc<hyper::server::conn::http1::Builder>,
    router: Router,
    options: ServeOptions,
    registry: Arc<Registry>,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, tcp: TcpStream, id: u64, conn: Arc<conn::ConnState>) {
        let pace = self.options.body;
        let router = self.router.clone();
        let for_requests = Arc::clone(&conn);
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = BusyGuard::new(Arc::clone(&for_requests));
            let req = req.map(|incoming| {
                // A request without a body (most GETs) needs no pacing timer.
                if http_body::Body::is_end_stream(&incoming) {
                    Body::new(incoming)
                } else {
                    Body::new(PacedBody::new(incoming, pace, Arc::clone(&for_requests)))
                }
            });
            let mut router = router.clone();
            async move {
                let response = router.call(req).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| Body::new(BusyBody::new(body, busy))))
            }
        });
        let io = TokioIo::new(Tracked::new(tcp, Arc::clone(&conn)));
        let connection = self.http.serve_connection(io, service);
        tokio::pin!(connection);
        let limits = conn::Overstay {
            header: self.options.header_timeout,
            idle: self.options.idle_timeout,
            write: self.options.write_timeout,
        };
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    break;
                }
                () = conn.closed() => break,
                () = conn.overstayed(limits) => break,
                _ = self.stop.wait_for(|stop| *stop), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        self.registry.remove(id);
    }
}
