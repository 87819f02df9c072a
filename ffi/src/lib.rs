//! Tipline's core for the phone apps (Kotlin on Android, Swift on iOS) and for Python, through
//! uniffi: the generated bindings give each platform its own idioms (suspend functions, async
//! functions, asyncio coroutines, exceptions) over exactly the core's behaviour.
//!
//! This crate is a bridge, not an API of its own: every export delegates in one line to
//! `tipline-core`; the only things that live here are the plain records the bindings need
//! ([`types`], converted in `convert`), the one error type apps act on ([`error`]), the traits
//! the platform implements ([`platform`]) and the tokio runtime the async exports run on
//! (`runtime`). Bindings are generated with `scripts/bindings` (see the README).

#![deny(missing_docs)]

uniffi::setup_scaffolding!();

pub mod client;
mod convert;
pub mod error;
pub mod l10n;
pub mod platform;
mod runtime;
pub mod types;

pub use client::TiplineClient;
pub use error::{ApiError, FieldProblem};
pub use l10n::Localizer;
pub use platform::{KeyStore, OutboxListener};
pub use types::*;
