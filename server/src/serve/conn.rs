//! What the server knows of each open connection: whether a request is in flight on it, since
//! when it has been idle, since when a request head has been arriving, and since when a write
//! has been waiting for the client to take its bytes. The accept loop reads it to close
//! connections that overstay (slow headers, idle keep-alive, a client that does not read its
//! answer) and to make room when the connection cap is reached (the oldest connection with no
//! request in flight goes first).

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Milliseconds since the first call, on the monotonic clock (so they fit an atomic).
pub(crate) fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One connection's state, shared by its task, its I/O and its requests.
#[derive(Debug)]
pub(crate) struct ConnState {
    busy: AtomicU32,
    /// When the last request in flight ended (or the connection opened), in [`now_ms`].
    idle_since: AtomicU64,
    /// When the first byte of a request head arrived while idle, plus one; 0 while none has.
    head_started: AtomicU64,
    /// When a write began to wait for room in the socket, plus one; 0 while none waits.
    write_blocked: AtomicU64,
    closing: AtomicBool,
    close: Notify,
}

impl ConnState {
    pub(crate) fn new() -> Self {
        let now = now_ms();
        ConnState {
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(now),
            // A fresh connection owes its first request head from the moment it is accepted.
            head_started: AtomicU64::new(now + 1),
            write_blocked: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    /// Whether no request is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.busy.load(Ordering::Acquire) == 0
    }

    /// Asks the connection's task to drop the connection now.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.close.notify_one();
    }

    /// Resolves once [`ConnState::close`] was called.
    pub(crate) async fn closed(&self) {
        if !self.closing.load(Ordering::Acquire) {
            self.close.notified().await;
        }
    }

    /// Bytes arrived from the client.
    fn on_read(&self) {
        if self.is_idle() && self.head_started.load(Ordering::Acquire) == 0 {
            self.head_started.store(now_ms() + 1, Ordering::Release);
        }
    }

    /// A write waits for the client to take bytes (`true`), or went through (`false`).
    fn on_write(&self, blocked: bool) {
        if !blocked {
            self.write_blocked.store(0, Ordering::Release);
        } else if self.write_blocked.load(Ordering::Acquire) == 0 {
            self.write_blocked.store(now_ms() + 1, Ordering::Release);
        }
    }

    /// When the connection must be closed unless a request starts, or `None` while busy.
    fn deadline_ms(&self, header_timeout: Duration, idle_timeout: Duration) -> Option<u64> {
        if !self.is_idle() {
            return None;
        }
        match self.head_started.load(Ordering::Acquire) {
            0 => Some(
                self.idle_since
                    .load(Ordering::Acquire)
                    .saturating_add(ms(idle_timeout)),
            ),
            started => Some((started - 1).saturating_add(ms(header_timeout))),
        }
    }

    /// When the connection must be closed unless the write waiting now goes through, or `None`
    /// while no write waits.
    fn write_deadline_ms(&self, write_timeout: Duration) -> Option<u64> {
        match self.write_blocked.load(Ordering::Acquire) {
            0 => None,
            since => Some((since - 1).saturating_add(ms(write_timeout))),
        }
    }

    /// Resolves when the connection has overstayed: no request head within the header timeout
    /// of its first byte (or of the accept), nothing at all within the idle timeout of the last
    /// request, or a write that waited longer than the write timeout for the client to read.
    pub(crate) async fn overstayed(&self, limits: Overstay) {
        // The state may change at any time (a request starts or ends, a write goes through or
        // blocks): look again at least at this pace.
        let recheck = (limits.header.min(limits.idle).min(limits.write) / 2).max(Duration::from_millis(50));
        loop {
            let deadline = [
                self.deadline_ms(limits.header, limits.idle),
                self.write_deadline_ms(limits.write),
            ]
            .into_iter()
            .flatten()
            .min();
            match deadline {
                None => tokio::time::sleep(recheck).await,
                Some(deadline) => {
                    let now = now_ms();
                    if now >= deadline {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(deadline - now).min(recheck)).await;
                }
            }
        }
    }
}

/// The timeouts a connection must keep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Overstay {
    /// For a request head to arrive whole.
    pub(crate) header: Duration,
    /// For the next request on a keep-alive connection.
    pub(crate) idle: Duration,
    /// For a waiting write to go through.
    pub(crate) write: Duration,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Marks a request in flight on a connection until dropped (held by the response body, so a
/// stream or a download counts as in flight until its last byte).
#[derive(Debug)]
pub(crate) struct BusyGuard(Arc<ConnState>);

impl BusyGuard {
    pub(crate) fn new(conn: Arc<ConnState>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        conn.head_started.store(0, Ordering::Release);
        BusyGuard(conn)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.idle_since.store(now_ms(), Ordering::Release);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections, by the order they were accepted.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
    emptied: Notify,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next: u64,
    open: BTreeMap<u64, Arc<ConnState>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new connection if fewer than `max` are open, first closing the oldest idle
    /// one if the cap is reached. `None` if every open connection has a request in flight.
    pub(crate) fn admit(&self, max: usize) -> Option<(u64, Arc<ConnState>)> {
        let mut inner = self.lock();
        if inner.open.len() >= max {
            let oldest_idle = inner
                .open
                .iter()
                .find(|(_, conn)| conn.is_idle())
                .map(|(id, _)| *id)?;
            if let Some(conn) = inner.open.remove(&oldest_idle) {
                conn.close();
            }
        }
        let id = inner.next;
        inner.next += 1;
        let conn = Arc::new(ConnState::new());
        inner.open.insert(id, Arc::clone(&conn));
        Some((id, conn))
    }

    /// Forgets a connection that ended (or was closed to make room).
    pub(crate) fn remove(&self, id: u64) {
        let mut inner = self.lock();
        inner.open.remove(&id);
        if inner.open.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// Resolves once no connection is open.
    pub(crate) async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.len() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

/// A socket that tells its connection's state when bytes arrive.
pub(crate) struct Tracked<T> {
    inner: T,
    conn: Arc<ConnState>,
}

impl<T> Tracked<T> {
    pub(crate) fn new(inner: T, conn: Arc<ConnState>) -> Self {
        Tracked { inner, conn }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.on_read();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.conn.on_write(result.is_pending());
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.conn.on_write(result.is_pending());
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_oldest_idle_connection_makes_room() {
        let registry = Registry::default();
        let (first, a) = registry.admit(2).unwrap();
        let (_, b) = registry.admit(2).unwrap();
        let _busy = BusyGuard::new(Arc::clone(&a));
        // The cap is reached: the first is busy, so the second (idle) is closed.
        let (_, _c) = registry.admit(2).unwrap();
        assert!(b.closing.load(Ordering::Acquire));
        assert!(!a.closing.load(Ordering::Acquire));
        assert_eq!(registry.len(), 2);
        // Everyone busy: no room.
        let _busy_c = BusyGuard::new(_c);
        assert!(registry.admit(2).is_none());
        registry.remove(first);
        assert!(registry.admit(2).is_some());
    }

    #[test]
    fn test_deadlines_follow_the_state() {
        let conn = Arc::new(ConnState::new());
        let (header, idle) = (Duration::from_secs(5), Duration::from_secs(60));
        let fresh = conn.deadline_ms(header, idle).unwrap();
        assert!(fresh <= now_ms() + 5_000);
        let guard = BusyGuard::new(Arc::clone(&conn));
        assert_eq!(conn.deadline_ms(header, idle), None);
        drop(guard);
        let idle_deadline = conn.deadline_ms(header, idle).unwrap();
        assert!(idle_deadline > now_ms() + 50_000);
        conn.on_read();
        assert!(conn.deadline_ms(header, idle).unwrap() <= now_ms() + 5_000);
    }

    #[test]
    fn test_a_waiting_write_has_a_deadline_until_it_goes_through() {
        let conn = ConnState::new();
        let write = Duration::from_secs(30);
        assert_eq!(conn.write_deadline_ms(write), None);
        conn.on_write(true);
        let first = conn.write_deadline_ms(write).unwrap();
        assert!(first <= now_ms() + 30_000);
        // Still waiting: the deadline counts from the first wait.
        std::thread::sleep(Duration::from_millis(5));
        conn.on_write(true);
        assert_eq!(conn.write_deadline_ms(write), Some(first));
        conn.on_write(false);
        assert_eq!(conn.write_deadline_ms(write), None);
    }
}
