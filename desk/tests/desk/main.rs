//! The desk's views through `app(state).oneshot(request)`: sign-in with password and TOTP,
//! sessions, CSRF, roles, the audit log, hostile reports and attachments, security headers,
//! languages, the inbox and the report page.
#![allow(clippy::unwrap_used)]

mod admin;
mod cli;
mod export;
mod l10n;
mod login;
mod reports;
mod security;
mod support;
