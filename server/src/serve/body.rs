//! Request and response bodies as the accept loop hands them over: a request body that must keep
//! coming (no pause longer than the stall timeout, and on average no slower than the floor rate
//! once the stall timeout has passed), and a response body that marks its connection busy until
//! its last byte.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::conn::{BusyGuard, ConnState};

/// How fast a request body must come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPace {
    /// Longest pause between two pieces of a body (and grace before the floor rate applies).
    pub stall: Duration,
    /// Bytes per second a body must average after the grace.
    pub min_rate: u64,
}

/// The error a request body ends with when its client is too slow.
#[derive(Debug, thiserror::Error)]
#[error("the request body came too slowly")]
pub struct TooSlow;

/// A request body that is cut (its connection closed) when the client sends too slowly.
pub(crate) struct PacedBody<B> {
    inner: B,
    pace: BodyPace,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    conn: Arc<ConnState>,
}

impl<B> PacedBody<B> {
    pub(crate) fn new(inner: B, pace: BodyPace, conn: Arc<ConnState>) -> Self {
        let started = Instant::now();
        PacedBody {
            inner,
            pace,
            started,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(started + pace.stall)),
            conn,
        }
    }

    /// The time by which more bytes must have come: a stall timeout after the last piece, and no
    /// later than the floor rate allows for what came so far.
    fn deadline(&self, now: Instant) -> Instant {
        let stall = now + self.pace.stall;
        if self.pace.min_rate == 0 {
            return stall;
        }
        let earned = Duration::from_secs_f64(self.received as f64 / self.pace.min_rate as f64);
        stall.min(self.started + self.pace.stall + earned)
    }
}

impl<B> HttpBody for PacedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.deadline(Instant::now());
                    this.timer.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.conn.close();
                    Poll::Ready(Some(Err(Box::new(TooSlow))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its connection marked busy until it is done or dropped.
pub(crate) struct BusyBody<B> {
    inner: B,
    _busy: BusyGuard,
}

impl<B> BusyBody<B> {
    pub(crate) fn new(inner: B, busy: BusyGuard) -> Self {
        BusyBody { inner, _busy: busy }
    }
}

impl<B> HttpBody for BusyBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_the_deadline_is_the_earlier_of_stall_and_floor_rate() {
        let pace = BodyPace {
            stall: Duration::from_secs(10),
            min_rate: 1000,
        };
        let conn = Arc::new(ConnState::new());
        let mut body = PacedBody::new(http_body_util::Empty::<Bytes>::new(), pace, conn);
        let start = body.started;
        // Nothing yet: the stall timeout from now.
        assert_eq!(body.deadline(start), start + pace.stall);
        // 5,000 bytes earn 5 s past the grace; a piece at 14 s must be followed by 15 s.
        body.received = 5_000;
        let now = start + Duration::from_secs(14);
        assert_eq!(body.deadline(now), start + Duration::from_secs(15));
        // Far ahead of the floor: the stall timeout rules.
        body.received = 1_000_000;
        assert_eq!(body.deadline(now), now + pace.stall);
    }
}
