//! The tokio runtime of the async exports. The core owns no runtime (its `async fn`s run on the
//! caller's); the apps have none either, so this crate keeps one, small enough for a phone.
//!
//! Every export runs its work here and the foreign side only awaits the result. That keeps
//! sealing, proof-of-work stamps and disk writes off the app's main thread and Python's event
//! loop, and gives reqwest the tokio reactor it needs whichever executor polls the future.
//!
//! One thread drives it (tokio's current-thread scheduler, the smaller of the two in the phone
//! library): deliveries and conversations are I/O-bound, and what costs CPU or waits on the disk
//! (sealing, stamps, SQLite, files) goes to the runtime's blocking pool, as the core's own
//! `spawn_blocking` calls and [`blocking`] send it.

use std::future::Future;
use std::sync::LazyLock;

use tokio::runtime::{Builder, Handle};

use crate::error::{from_core, ApiError};

/// The runtime's handle; its thread is started on first use and runs for the life of the process.
static RUNTIME: LazyLock<Handle> = LazyLock::new(|| {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the OS lets a process start threads");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("tipline-core".to_owned())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("the OS lets a process start threads");
    handle
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
