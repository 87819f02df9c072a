//! The client runtime that the phone apps and the desktop share: directory, outbox, delivery,
//! case book, alerts. It owns no runtime; its `async fn`s run on the caller's tokio runtime.

pub mod keystore;
pub mod local;
pub mod vault;
