//! The memory budget of request bodies. Every handler reads its body into a buffer bounded by its
//! route's limit; this bounds them all together: each piece of a body takes its size from one
//! budget as it arrives, and gives it back when the request has been answered. A request whose
//! piece finds no room waits briefly for room, and is then answered `503 busy`, so many slow or
//! half-sent bodies cannot take the server's memory, whatever their number.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tipline_core::api::code;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;
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

/// A request body that takes each piece's size from the budget before handing it on.
struct BudgetedBody {
    inner: Body,
    budget: BodyBudget,
    held: Arc<Held>,
    waiting: Option<(Frame<Bytes>, Acquiring)>,
}

impl HttpBody for BudgetedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some((_, acquiring)) = this.waiting.as_mut() {
                let permit = std::task::ready!(acquiring.as_mut().poll(cx));
                let (frame, _) = this.waiting.take().expect("a frame waits with its acquisition");
                return match permit {
                    Some(permit) => {
                        this.held.add(permit);
                        Poll::Ready(Some(Ok(frame)))
                    }
                    None => {
                        this.held.refused.store(true, Ordering::Release);
                        Poll::Ready(Some(Err(Box::new(NoRoom))))
                    }
                };
            }
            let frame = match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => return Poll::Ready(None),
            };
            let size = frame.data_ref().map_or(0, Bytes::len);
            if size == 0 {
                return Poll::Ready(Some(Ok(frame)));
            }
            let room = Arc::clone(&this.budget.room);
            let wait = this.budget.wait;
            let fits = size <= this.budget.bytes;
            let acquiring: Acquiring = Box::pin(async move {
                let size = u32::try_from(size).ok().filter(|_| fits)?;
                tokio::time::timeout(wait, room.acquire_many_owned(size))
                    .await
                    .ok()?
                    .ok()
            });
            this.waiting = Some((frame, acquiring));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The middleware: bodies draw on the budget, which they give back once answered; a request
/// that found no room is answered `503 busy` whatever its handler made of the cut body.
pub async fn hold(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let held = Arc::new(Held::default());
    let budget = state.body_budget().clone();
    let req = req.map(|inner| {
        Body::new(BudgetedBody {
            inner,
            budget,
            held: Arc::clone(&held),
            waiting: None,
        })
    });
    let response = next.run(req).await;
    if held.refused.load(Ordering::Acquire) {
        return AppError::unavailable(
            code::BUSY,
            "the server has no memory for this request body now; retry shortly",
        )
        .with_header(RETRY_AFTER, 1)
        .into_response();
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
