//! Tipline's shared client library.
//!
//! Everything a phone or a desktop needs to file a report that only the addressed unit can read:
//! the report model, HPKE sealing (RFC 9180) into a versioned envelope, streamed attachment
//! encryption, case codenames, and the authority-signed directory of units, hotlines and
//! categories. The crate holds no runtime and starts no threads; the apps and the desk tool bring
//! their own.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod alert;
pub mod api;
pub mod attachment;
pub mod client;
pub mod codename;
pub mod compose;
pub mod crypto;
#[cfg(feature = "desk")]
pub mod desk;
pub mod directory;
pub mod encoding;
pub mod envelope;
pub mod error;
pub mod hotline;
pub mod keys;
pub mod l10n;
pub mod media;
pub mod merkle;
pub mod message;
pub mod ohttp;
pub mod receipt;
pub mod report;
pub mod request_auth;
pub mod signed;
pub mod stamp;

pub use error::{Error, Result};
