//! The relay's accept loop: HTTP/1.1 over hyper, with the bounds `axum::serve` does not have,
//! the same kind as the intake's (`server/src/serve/`), kept small.
//!
//! - A request head must arrive whole within the header timeout; a keep-alive connection waiting
//!   for its next request is closed after the same time (hyper starts the head's timer whenever
//!   it waits for one).
//! - A request body must arrive whole within the body timeout, with no pause longer than its
//!   stall timeout (see [`crate::read_body`]), or it is answered `408` and the connection closed.
//! - A response must keep going out: a write that makes no progress for the write timeout (a
//!   client that does not read its answer) closes the connection.
//! - At most `max_connections` are open; a newcomer past that gets a fast `503` and is closed,
//!   or, past a few of those at once, is closed without a word.
//!
//! The client's address is handed to the router for its rate limit and used for nothing else.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Sleep;
use tower::Service as _;

/// Largest request head, in bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in a request.
const MAX_HEADERS: usize = 32;
/// Fast 503 answers being written at once; newcomers past this are closed without a word.
const OVERFLOW_ANSWERS: usize = 64;
/// How long a fast 503 answer may take to write.
const OVERFLOW_WRITE: Duration = Duration::from_secs(1);
/// Pause after an accept failed for want of descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long open connections get to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The bounds of the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time for a request head to arrive whole, and for a kept-alive connection to send its
    /// next one.
    pub header_timeout: Duration,
    /// Time a write of a response may wait for the client to take its bytes.
    pub write_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n\
cache-control: no-store\r\nconnection: close\r\ncontent-length: 4\r\n\r\nbusy";

/// Serves the relay's `router` on `listener` within `options` until `shutdown` resolves, then
/// lets open connections finish for a few seconds.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_ANSWERS));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, client) = match accepted {
            Ok(accepted) => accepted,
            // EMFILE, ENFILE, ENOBUFS, ENOMEM: pause rather than spin.
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            Err(_) => continue,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse(tcp, &overflow);
            continue;
        };
        let http = Arc::clone(&http);
        let router = router.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(client));
                let mut router = router.clone();
                async move { router.call(req.map(Body::new)).await }
            });
            let io = TokioIo::new(WriteWatch::new(tcp, options.write_timeout));
            let connection = http.serve_connection(io, service);
            tokio::pin!(connection);
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    _ = stop.wait_for(|stop| *stop), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    stop_tx.send_replace(true);
    // Wait for the connections' slots to come back, within the grace.
    let all = u32::try_from(options.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
    Ok(())
}

/// Answers a connection that finds no room with a fast 503, or closes it if too many such
/// answers are being written already.
fn refuse(mut tcp: TcpStream, overflow: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(overflow).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(OVERFLOW_WRITE, async {
            tcp.write_all(BUSY).await?;
            tcp.shutdown().await
        })
        .await;
        drop(permit);
    });
}

/// A socket whose writes fail once they make no progress for `limit`.
struct WriteWatch {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteWatch {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        WriteWatch {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Polls a write-side operation: progress clears the watch; waiting starts or checks it.
    fn watch<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let limit = self.limit;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client does not take its answer",
                )))
            }
        }
    }
}

impl AsyncRead for WriteWatch {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteWatch {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
