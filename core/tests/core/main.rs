//! Integration tests of tipline-core: one binary, one module per concern.
#![allow(clippy::unwrap_used)]

mod attachment;
mod codename;
mod compose;
#[cfg(feature = "desk")]
mod desk;
mod directory;
mod envelope;
mod floats;
mod golden;
mod hpke_interop;
mod hpke_vectors;
mod local;
mod media;
mod merkle;
mod message;
mod signed_docs;
mod support;
