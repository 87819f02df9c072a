//! End-to-end tests over real sockets: `tipline-server` runs as a process on loopback; a citizen
//! client and a unit desk talk to it over HTTP. One binary, one module per concern.
#![allow(clippy::unwrap_used)]

mod attack;
mod batch;
mod ceiling;
mod crash;
mod desk;
mod nodes;
mod socket;
mod surge;
