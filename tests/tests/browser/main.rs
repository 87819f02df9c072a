//! The web desk in a real browser: headless Chromium through WebDriver ([`driver`]) against real
//! server processes on loopback: `tipline-server` and `tipline-desk` ([`desk`]).
#![allow(clippy::unwrap_used)]

mod casework;
mod desk;
mod driver;
mod flow;
mod hostile;
mod late;
mod refusals;
mod smoke;
mod together;
