//! Size limits and rate limits. Sizes follow from the core's formats (an envelope's largest size,
//! the largest attachment); rates are in-memory token buckets (the `governor` crate).
//!
//! Rate limits are never keyed by IP address (the server does not look at it): anonymous
//! submissions and case posts share one global bucket, and each unit has its own bucket for its
//! signed requests, charged only after the signature checked, so nobody can spend a unit's budget
//! by sending requests in its name.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tipline_core::api::bounds::base64_len;
use tipline_core::api::PublicLimits;
use tipline_core::envelope::MAX_ENVELOPE;
use tipline_core::report::MAX_ATTACHMENTS;

use crate::error::AppError;

/// Largest chunk of an attachment upload, in bytes.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Room for the JSON around a base64url envelope (ids, attachments, the stamp).
const JSON_SLACK: usize = 16 * 1024;
/// Largest JSON body that carries an envelope (a report, a follow-up, a reply, a transfer).
pub const ENVELOPE_BODY_BYTES: usize = base64_len(MAX_ENVELOPE) + JSON_SLACK;
/// Largest signed alert, in bytes of JSON.
pub const ALERT_BODY_BYTES: usize = tipline_core::api::bounds::MAX_ALERT_JSON;
/// Largest signed directory, in bytes of JSON.
pub const DIRECTORY_BODY_BYTES: usize = tipline_core::directory::MAX_SIGNED_JSON_LEN;
/// Largest body of any other request (and the default for every route).
pub const DEFAULT_BODY_BYTES: usize = 16 * 1024;
/// Largest body a signed unit request may have (buffered whole to check the signature).
pub const UNIT_REQUEST_BYTES: usize = ENVELOPE_BODY_BYTES;
pub use tipline_core::api::bounds::{max_sealed_attachment, MAX_INBOX_BATCH, MAX_PAGE, PAGE_ENVELOPE_BYTES};

/// The limits a client needs to know, as `/v1/config` publishes them: this build's.
pub fn public_limits() -> PublicLimits {
    PublicLimits {
        max_envelope_bytes: MAX_ENVELOPE,
        max_attachments: MAX_ATTACHMENTS,
        max_attachment_bytes: max_sealed_attachment(),
        max_chunk_bytes: MAX_CHUNK_BYTES,
        max_envelope_body_bytes: ENVELOPE_BODY_BYTES,
        max_alert_bytes: ALERT_BODY_BYTES,
        max_inbox_batch: MAX_INBOX_BATCH,
        max_page: MAX_PAGE,
        max_page_envelope_bytes: PAGE_ENVELOPE_BYTES,
    }
}

/// Request rates: a sustained rate per minute and a burst, for each bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Anonymous submissions and case posts per minute, all reporters together.
    pub anonymous_per_minute: u32,
    /// How many anonymous requests may come at once.
    pub anonymous_burst: u32,
    /// Signed requests per minute for each unit.
    pub unit_per_minute: u32,
    /// How many signed requests of one unit may come at once.
    pub unit_burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            anonymous_per_minute: 600,
            anonymous_burst: 100,
            unit_per_minute: 1200,
            unit_burst: 200,
        }
    }
}

/// The token buckets.
pub struct Limiters {
    anonymous: DefaultDirectRateLimiter,
    units: DefaultKeyedRateLimiter<String>,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

fn retry_after(wait: Duration) -> AppError {
    // Round up so a client that waits as told is let through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    AppError::rate_limited(secs.max(1))
}

impl Limiters {
    /// Buckets for `rates` (a rate of 0 is taken as 1).
    pub fn new(rates: RateLimits) -> Self {
        Limiters {
            anonymous: DefaultDirectRateLimiter::direct(quota(
                rates.anonymous_per_minute,
                rates.anonymous_burst,
            )),
            units: DefaultKeyedRateLimiter::keyed(quota(rates.unit_per_minute, rates.unit_burst)),
        }
    }

    /// Takes a token from the anonymous bucket, or says how long to wait (429).
    pub fn check_anonymous(&self) -> Result<(), AppError> {
        self.anonymous
            .check()
            .map_err(|not_until| retry_after(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Takes a token from `unit_id`'s bucket, or says how long to wait (429).
    pub fn check_unit(&self, unit_id: &str) -> Result<(), AppError> {
        self.units
            .check_key(&unit_id.to_owned())
            .map_err(|not_until| retry_after(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Forgets units whose buckets are full again (memory stays bounded by the directory anyway).
    pub fn shrink(&self) {
        self.units.retain_recent();
        self.units.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tipline_core::report::MAX_ATTACHMENT_BYTES;

    #[test]
    fn test_limits_cover_the_largest_envelope() {
        const { assert!(ENVELOPE_BODY_BYTES > MAX_ENVELOPE * 4 / 3) };
        assert!(max_sealed_attachment() > MAX_ATTACHMENT_BYTES);
    }

    #[test]
    fn test_burst_then_refused_with_retry_after() {
        let limiters = Limiters::new(RateLimits {
            anonymous_per_minute: 1,
            anonymous_burst: 2,
            unit_per_minute: 1,
            unit_burst: 1,
        });
        assert!(limiters.check_anonymous().is_ok());
        assert!(limiters.check_anonymous().is_ok());
        let err = limiters.check_anonymous().unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        // Units have their own buckets.
        assert!(limiters.check_unit("a").is_ok());
        assert!(limiters.check_unit("b").is_ok());
        assert!(limiters.check_unit("a").is_err());
    }
}
