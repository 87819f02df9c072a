//! The web desk in a real browser: headless Chromium through WebDriver ([`driver`]) against real
//! server processes on loopback.
#![allow(clippy::unwrap_used)]

mod driver;
mod smoke;
