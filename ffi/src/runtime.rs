//! The tokio runtime of the async exports. The core owns no runtime (its `async fn`s run on the
//! caller's); the apps have none either, so this crate keeps one, small enough for a phone.
//!
//! Every export runs its work here and the foreign side only awaits the result. That keeps
//! sealing, proof-of-work stamps and disk writes off the app's main thread and Python's event
//! loop, and gives reqwest the tokio reactor it needs whichever executor polls the future.

use std::future::Future;
use std::sync::LazyLock;

use tokio::runtime::{Builder, Runtime};

use crate::error::{from_core, ApiError};

/// Two workers: deliveries and conversations are I/O-bound; a phone has few cores to spare.
const WORKERS: usize = 2;

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("tipline-core")
        .enable_all()
        .build()
        .expect("the OS lets a process start threads")
});

/// The outcome of a task: a panic in the core is a bug and is raised again here, so that uniffi
/// turns it into the platform's internal-error exception rather than a silent wrong answer.
fn finished<T>(joined: Result<T, tokio::task::JoinError>) -> T {
    match joined {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => panic!("the runtime shut down while a call was running"),
    }
}

/// Runs an async core call on the runtime. If the caller stops waiting (a cancelled coroutine),
/// the call still completes: core operations are safe to finish and the outbox stays consistent.
pub(crate) async fn spawn<T, F>(future: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Future<Output = tipline_core::Result<T>> + Send + 'static,
{
    finished(RUNTIME.spawn(future).await).map_err(from_core)
}

/// Runs a blocking core call (disk, sealing) on the runtime's blocking pool.
pub(crate) async fn blocking<T, F>(call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> tipline_core::Result<T> + Send + 'static,
{
    finished(RUNTIME.spawn_blocking(call).await).map_err(from_core)
}
