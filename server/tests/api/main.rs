//! The HTTP API through `app(state).oneshot(request)`, against a real SQLite store in a temporary
//! folder (or, with `TIPLINE_TEST_BACKEND=postgres`, a fresh database of a PostgreSQL cluster
//! the binary starts): every route's success and each class of error a client can meet.
#![allow(clippy::unwrap_used)]

mod alerts;
mod attachments;
mod auth;
mod cases;
mod connections;
mod difficulty;
mod directory;
mod gateway;
mod gateway_interop;
mod inbox;
mod limits;
mod memory;
mod operations;
mod reports;
mod storage;
mod support;

#[path = "../support/postgres.rs"]
mod pg;
mod transfer;
