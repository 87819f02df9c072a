//! Signing in: passwords ([`password`]), the TOTP second factor ([`totp`]), sessions and their
//! CSRF tokens ([`sessions`]), bounds on guessing ([`ratelimit`]) and the clock they share.

pub mod clock;
pub mod password;
pub mod ratelimit;
pub mod sessions;
pub mod totp;
