//! The memory budget of request bodies. Every handler reads its body into a buffer bounded by its
//! route's limit; this bounds them all together. A body that declares its length (up to the
//! largest any route takes) takes all of it from the budget before its first byte is read; any other
//! body takes each piece's size as it arrives. Either way the budget comes back when the
//! request has been answered. A request waits for room at most a second in all, and is then
//! answered `503 busy`, so many slow or half-sent bodies cannot take the server's memory,
//! whatever their number.
//!
//! Taking a declared length whole matters under attack: when bodies took room piece by piece,
//! half-sent bodies each held part of the budget while they waited for more, and the server
//! then let about one request a second through, whatever the wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, RETRY_AFTER};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tipline_core::api::code;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;
use crate::limits::LARGEST_BODY;
use crate::state::AppState;

/// The bytes of request bodies held at once, all requests together.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    room: Arc<Semaphore>,
    bytes: usize,
    wait: Duration,
}

/// The error a body ends with when it found no room.
#[derive(Debug, thiserror::Error)]
#[error("no memory for this request body now")]
pub struct NoRoom;

impl BodyBudget {
    /// A budget of `bytes`, where a piece of a body waits at most `wait` for room.
    pub fn new(bytes: usize, wait: Duration) -> Self {
        let bytes = bytes.clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            room: Arc::new(Semaphore::new(bytes)),
            bytes,
            wait,
        }
    }

    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.room.available_permits()
    }
}

/// What one request holds: its pieces' share of the budget, and whether a piece found none.
#[derive(Default)]
struct Held {
    permits: Mutex<Option<OwnedSemaphorePermit>>,
    refused: AtomicBool,
}

impl Held {
    fn add(&self, permit: OwnedSemaphorePermit) {
        let mut held = self
            .permits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match held.as_mut() {
            Some(all) => all.merge(permit),
            None => *held = Some(permit),
        }
    }
}

type Acquiring = Pin<Box<dyn Future<Output = Option<OwnedSemaphorePermit>> + Send>>;

/// A request body that takes its declared length from the budget when it is first read (so
/// that a request refused before its body is read, such as a badly signed one, takes nothing),
/// and then each piece's size beyond what it took.
struct BudgetedBody {
    inner: Body,
    budget: BodyBudget,
    held: Arc<Held>,
    /// The declared length still to be taken before the first piece is read.
    declared: u32,
    /// Bytes taken and not yet used by a piece.
    prepaid: usize,
    /// Until when the request may wait for room, from its first wait.
    wait_until: Option<tokio::time::Instant>,
    /// An acquisition under way, with the piece it is for (none for the declared length).
    waiting: Option<(Option<Frame<Bytes>>, Acquiring)>,
}

impl BudgetedBody {
    /// Starts taking `size` bytes from the budget, within what is left of the request's wait.
    fn acquire(&mut self, size: usize, frame: Option<Frame<Bytes>>) {
        let room = Arc::clone(&self.budget.room);
        let wait_until = *self
            .wait_until
            .get_or_insert_with(|| tokio::time::Instant::now() + self.budget.wait);
        let fits = size <= self.budget.bytes;
        let acquiring: Acquiring = Box::pin(async move {
            let size = u32::try_from(size).ok().filter(|_| fits)?;
            tokio::time::timeout_at(wait_until, room.acquire_many_owned(size))
                .await
                .ok()?
                .ok()
        });
        self.waiting = Some((frame, acquiring));
    }
}

impl HttpBody for BudgetedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.declared > 0 {
            let declared = this.declared as usize;
            this.declared = 0;
            this.acquire(declared, None);
        }
        loop {
            if let Some((_, acquiring)) = this.waiting.as_mut() {
                let permit = std::task::ready!(acquiring.as_mut().poll(cx));
                let (frame, _) = this.waiting.take().expect("a frame waits with its acquisition");
                let Some(permit) = permit else {
                    this.held.refused.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(NoRoom))));
                };
                let size = permit.num_permits();
                this.held.add(permit);
                match frame {
                    Some(frame) => return Poll::Ready(Some(Ok(frame))),
                    None => {
                        this.prepaid = size;
                        continue;
                    }
                }
            }
            let frame = match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => return Poll::Ready(None),
            };
            let size = frame.data_ref().map_or(0, Bytes::len);
            let prepaid = size.min(this.prepaid);
            this.prepaid -= prepaid;
            let size = size - prepaid;
            if size == 0 {
                return Poll::Ready(Some(Ok(frame)));
            }
            this.acquire(size, Some(frame));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a request that found no room.
fn busy() -> Response {
    AppError::unavailable(
        code::BUSY,
        "the server has no memory for this request body now; retry shortly",
    )
    .with_header(RETRY_AFTER, 1)
    .into_response()
}

/// The middleware: bodies draw on the budget, which they give back once answered; a request
/// that found no room is answered `503 busy` whatever its handler made of the cut body.
pub async fn hold(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let held = Arc::new(Held::default());
    let budget = state.body_budget().clone();
    // A declared length is taken whole when the body is first read, before any of it is.
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&len| len <= LARGEST_BODY.min(budget.bytes))
        .and_then(|len| u32::try_from(len).ok())
        .unwrap_or(0);
    let req = req.map(|inner| {
        Body::new(BudgetedBody {
            inner,
            budget,
            held: Arc::clone(&held),
            declared,
            prepaid: 0,
            wait_until: None,
            waiting: None,
        })
    });
    let response = next.run(req).await;
    if held.refused.load(Ordering::Acquire) {
        return busy();
    }
    // The budget comes back here, with the request's buffers gone.
    drop(
        held.permits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take(),
    );
    response
}
