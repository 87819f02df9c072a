//! Size limits and rate limits. Sizes follow from the core's formats (an envelope's largest size,
//! the largest attachment); rates are in-memory token buckets (the `governor` crate).
//!
//! Rate limits are never keyed by IP address (the server does not look at it): anonymous
//! requests have a bucket per route family (see [`RateLimits`]), case messages and uploads a
//! bucket per case or report too, charged after the case secret checked; each unit has its own
//! bucket for its signed requests, charged only after the signature checked, so nobody can spend
//! a unit's budget by sending requests in its name.

use std::num::NonZeroU32;
use std::sync::{PoisonError, RwLock};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tipline_core::api::bounds::base64_len;
use tipline_core::api::PublicLimits;
use tipline_core::envelope::MAX_ENVELOPE;
use tipline_core::report::{CaseId, ReportId, MAX_ATTACHMENTS};

use crate::error::AppError;

/// Most sealed bytes of attachments one report may declare together, by default: a 512 MiB
/// video and some photos, well below the 10 largest attachments the format allows.
pub const MAX_REPORT_ATTACHMENT_BYTES: u64 = 1024 * 1024 * 1024;
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
/// Largest body any route takes: a declared length up to this is taken from the body budget
/// whole, before the body is read (see [`crate::budget`]).
pub const LARGEST_BODY: usize = max_of(
    max_of(ENVELOPE_BODY_BYTES, MAX_CHUNK_BYTES),
    max_of(ALERT_BODY_BYTES, DIRECTORY_BODY_BYTES),
);

const fn max_of(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}
/// Largest body a signed unit request may have (buffered whole to check the signature).
pub const UNIT_REQUEST_BYTES: usize = ENVELOPE_BODY_BYTES;
pub use tipline_core::api::bounds::{max_sealed_attachment, MAX_INBOX_BATCH, MAX_PAGE, PAGE_ENVELOPE_BYTES};

/// The limits a client needs to know, as `/v1/config` publishes them: this build's, with
/// `max_report_attachment_bytes` as configured.
pub fn public_limits(max_report_attachment_bytes: u64) -> PublicLimits {
    PublicLimits {
        max_report_attachment_bytes,
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

/// A sustained rate per minute and a burst: one token bucket's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per minute, sustained.
    pub per_minute: u32,
    /// Requests that may come at once.
    pub burst: u32,
}

impl Rate {
    /// `per_minute` sustained, `burst` at once.
    pub const fn new(per_minute: u32, burst: u32) -> Rate {
        Rate { per_minute, burst }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.per_minute, self.burst)
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `PER_MINUTE/BURST`, e.g. `6000/2000`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (per_minute, burst) = text
            .split_once('/')
            .ok_or_else(|| "expected PER_MINUTE/BURST, e.g. 6000/2000".to_owned())?;
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{t:?} is not a positive whole number"))
        };
        Ok(Rate::new(number(per_minute)?, number(burst)?))
    }
}

/// The buckets' sizes. Anonymous requests are limited by route family, never by address: each
/// family has its own bucket, so a flood of one kind of request cannot spend another kind's
/// budget, and report intake has a bucket (a reserved share) of its own. Case messages and
/// attachment uploads are also priced by the case or the report, charged only after the case
/// secret checked, so a flood to random cases is refused before it touches any budget and a
/// flood in one's own case only spends that case's budget.
///
/// The defaults are sized for a national deployment so that genuine use never meets a 429
/// (the arithmetic is in the README, "The intake server's limits"): 100,000 apps polling
/// alerts and their cases every 15 minutes (about 110 requests/s for each), and a surge of 2,000
/// reports a minute with photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `POST /v1/reports`, all reporters together.
    pub reports: Rate,
    /// `HEAD`/`PATCH` of attachment uploads, all reporters together.
    pub uploads: Rate,
    /// `HEAD`/`PATCH` of the uploads of one report.
    pub report_uploads: Rate,
    /// Case message reads and posts by reporters, all cases together.
    pub cases: Rate,
    /// Case message reads and posts in one case.
    pub case: Rate,
    /// `GET` of `/v1/config`, `/v1/directory` and `/v1/alerts`, all clients together.
    pub reads: Rate,
    /// Signed requests of one unit.
    pub unit: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            // Surge: 2,000 reports/min (33/s). Three times that sustained, and one and a half
            // surge minutes at once as burst.
            reports: Rate::new(6_000, 3_000),
            // Surge with photos: 2,000 reports/min x 3 photos x (12 pieces of 256 KiB + 1 HEAD)
            // = 78,000/min (1,300/s). Three times that sustained, half a minute of it at once.
            uploads: Rate::new(240_000, 40_000),
            // One report: its 1 GiB of attachments (the default per-report budget) is 4,096
            // pieces of 256 KiB, all of which may come at once (with their HEADs) over a fast
            // connection; 100 pieces/s (25 MiB/s) sustained.
            report_uploads: Rate::new(6_000, 4_200),
            // Polls: 100,000 apps / 900 s = 111/s, plus follow-ups in a surge (33/s): about
            // 150/s. 500/s sustained; a tenth of the apps coming online at once as burst.
            cases: Rate::new(30_000, 10_000),
            // One case: a phone polls every 15 minutes and posts a few follow-ups.
            case: Rate::new(60, 20),
            // Alerts polled like cases (111/s), config and directory before each report in a
            // surge (2 x 33/s): about 180/s. 500/s sustained, a tenth of the apps at once.
            reads: Rate::new(30_000, 10_000),
            // One unit's desk: an acknowledgement per report, a download per attachment and
            // a case sync per follow-up. A surge sends 2,000 reports a minute, perhaps all to one
            // unit, with up to three photos each (8,000 requests a minute); a desk that was
            // offline catches up on its backlog as fast as it can open and store reports.
            // Only the unit's key signs these: the bound is against a runaway desk, not a
            // stranger (whose requests are refused before any budget).
            unit: Rate::new(60_000, 5_000),
        }
    }
}

impl RateLimits {
    /// Rates far above anything a test sends, for tests that are not about rate limits.
    pub fn generous() -> Self {
        let lots = Rate::new(100_000_000, 1_000_000);
        RateLimits {
            reports: lots,
            uploads: lots,
            report_uploads: lots,
            cases: lots,
            case: lots,
            reads: lots,
            unit: lots,
        }
    }
}

/// An anonymous route family with a bucket of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `POST /v1/reports`.
    Reports,
    /// Attachment `HEAD`/`PATCH`.
    Uploads,
    /// Reporters' case message reads and posts.
    Cases,
    /// Config, directory and alerts reads.
    Reads,
}

/// Keys kept per keyed bucket before the idle ones are forgotten; past it even after that, the
/// buckets start afresh. About 100 bytes each, so a few tens of MiB at most; reaching it takes as
/// many live cases, each opened by a report with a stamp.
const MAX_KEYS: usize = 100_000;

/// Buckets keyed by a 16-byte id (a case or a report), bounded in memory.
struct Keyed {
    quota: Quota,
    buckets: RwLock<DefaultKeyedRateLimiter<[u8; 16]>>,
}

impl Keyed {
    fn new(rate: Rate) -> Self {
        let quota = quota(rate);
        Keyed {
            quota,
            buckets: RwLock::new(DefaultKeyedRateLimiter::keyed(quota)),
        }
    }

    fn check(&self, key: [u8; 16]) -> Result<(), AppError> {
        let full = {
            let buckets = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
            buckets.check_key(&key).map_err(refused)?;
            buckets.len() > MAX_KEYS
        };
        if full {
            let mut buckets = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
            buckets.retain_recent();
            if buckets.len() > MAX_KEYS {
                *buckets = DefaultKeyedRateLimiter::keyed(self.quota);
            }
            buckets.shrink_to_fit();
        }
        Ok(())
    }

    fn shrink(&self) {
        let buckets = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
        buckets.retain_recent();
        buckets.shrink_to_fit();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The token buckets.
pub struct Limiters {
    reports: DefaultDirectRateLimiter,
    uploads: DefaultDirectRateLimiter,
    cases: DefaultDirectRateLimiter,
    reads: DefaultDirectRateLimiter,
    report_uploads: Keyed,
    case: Keyed,
    units: DefaultKeyedRateLimiter<String>,
}

fn quota(rate: Rate) -> Quota {
    let per_minute = NonZeroU32::new(rate.per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

fn refused(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> AppError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    // Round up so a client that waits as told is let through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    AppError::rate_limited(secs.max(1))
}

impl Limiters {
    /// Buckets for `rates` (a rate of 0 is taken as 1).
    pub fn new(rates: RateLimits) -> Self {
        let direct = |rate| DefaultDirectRateLimiter::direct(quota(rate));
        Limiters {
            reports: direct(rates.reports),
            uploads: direct(rates.uploads),
            cases: direct(rates.cases),
            reads: direct(rates.reads),
            report_uploads: Keyed::new(rates.report_uploads),
            case: Keyed::new(rates.case),
            units: DefaultKeyedRateLimiter::keyed(quota(rates.unit)),
        }
    }

    /// Takes a token from `family`'s bucket, or says how long to wait (429).
    pub fn check(&self, family: Family) -> Result<(), AppError> {
        let bucket = match family {
            Family::Reports => &self.reports,
            Family::Uploads => &self.uploads,
            Family::Cases => &self.cases,
            Family::Reads => &self.reads,
        };
        bucket.check().map_err(refused)
    }

    /// Takes a token from case `case_id`'s bucket, then from the case messages' (429 if either
    /// is empty). Call it only once the case secret checked.
    pub fn check_case(&self, case_id: CaseId) -> Result<(), AppError> {
        self.case.check(case_id.0)?;
        self.check(Family::Cases)
    }

    /// Takes a token from report `report_id`'s upload bucket, then from the uploads' (429 if
    /// either is empty). Call it only once the case secret checked.
    pub fn check_upload(&self, report_id: ReportId) -> Result<(), AppError> {
        self.report_uploads.check(report_id.0)?;
        self.check(Family::Uploads)
    }

    /// Takes a token from `unit_id`'s bucket, or says how long to wait (429).
    pub fn check_unit(&self, unit_id: &str) -> Result<(), AppError> {
        self.units.check_key(&unit_id.to_owned()).map_err(refused)
    }

    /// Forgets buckets that are full again (memory stays bounded by [`MAX_KEYS`] anyway).
    pub fn shrink(&self) {
        self.units.retain_recent();
        self.units.shrink_to_fit();
        self.case.shrink();
        self.report_uploads.shrink();
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
        let one = Rate::new(1, 2);
        let limiters = Limiters::new(RateLimits {
            reports: one,
            unit: Rate::new(1, 1),
            ..RateLimits::generous()
        });
        assert!(limiters.check(Family::Reports).is_ok());
        assert!(limiters.check(Family::Reports).is_ok());
        let err = limiters.check(Family::Reports).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        // The other families have buckets of their own.
        assert!(limiters.check(Family::Cases).is_ok());
        assert!(limiters.check(Family::Reads).is_ok());
        // Units have their own buckets.
        assert!(limiters.check_unit("a").is_ok());
        assert!(limiters.check_unit("b").is_ok());
        assert!(limiters.check_unit("a").is_err());
    }

    #[test]
    fn test_a_case_spends_its_own_budget_not_another_case_s() {
        let limiters = Limiters::new(RateLimits {
            case: Rate::new(1, 3),
            report_uploads: Rate::new(1, 1),
            ..RateLimits::generous()
        });
        let (a, b) = (CaseId([1; 16]), CaseId([2; 16]));
        for _ in 0..3 {
            limiters.check_case(a).unwrap();
        }
        assert_eq!(limiters.check_case(a).unwrap_err().code(), "rate_limited");
        limiters.check_case(b).unwrap();
        limiters.check_upload(ReportId([1; 16])).unwrap();
        assert!(limiters.check_upload(ReportId([1; 16])).is_err());
        limiters.check_upload(ReportId([2; 16])).unwrap();
    }

    #[test]
    fn test_keyed_buckets_stay_bounded() {
        let keyed = Keyed::new(Rate::new(1, 1));
        for i in 0..(MAX_KEYS as u32 + 10) {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&i.to_be_bytes());
            keyed.check(key).unwrap();
        }
        assert!(keyed.len() <= MAX_KEYS, "{}", keyed.len());
    }
}
