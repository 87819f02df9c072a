//! Signing a directory with the authority key, and the checks a device runs before it trusts one:
//! the pinned key, the signature, the format, the rules, the dates and the version it had cached.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Category, DirectoryBody, Hotline, Intake, Unit, DIRECTORY_FORMATS};
use crate::keys::{EncryptionPublicKey, SigningKey, VerifyingKey};
use crate::signed::{DocumentKind, Signed};
use crate::{Error, Result};

/// Largest directory payload a device will parse, in bytes (1 MiB).
pub const MAX_PAYLOAD_LEN: usize = 1024 * 1024;
/// Largest signed directory JSON [`SignedDirectory::from_json`] reads: the payload in base64
/// plus room for the key id and signature.
pub const MAX_SIGNED_JSON_LEN: usize = MAX_PAYLOAD_LEN / 3 * 4 + 4096;
/// How far in the future `issued_at` may be before a device refuses it, for clocks that run slow.
pub const CLOCK_SKEW: Duration = Duration::minutes(10);

const WHAT: &str = "directory";

impl DirectoryBody {
    /// Validates the body and checks that the apps know its hotlines' time zones, then signs it
    /// with the authority key.
    pub fn sign(&self, authority: &SigningKey) -> Result<SignedDirectory> {
        self.validate()?;
        self.check_time_zones_known()?;
        let signed = Signed::sign(DocumentKind::Directory, self, authority)?;
        if signed.payload.len() > MAX_PAYLOAD_LEN {
            return Err(Error::invalid(
                "directory",
                format!(
                    "{} bytes once serialised; devices read at most {MAX_PAYLOAD_LEN}",
                    signed.payload.len()
                ),
            ));
        }
        Ok(SignedDirectory(signed))
    }
}

/// A directory as served and cached: `{"payload", "key_id", "signature"}`, not yet trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignedDirectory(Signed);

/// Only the format field, read before the rest so that a future format is named as such rather
/// than failing as a shape error.
#[derive(Deserialize)]
struct FormatProbe {
    format: u32,
}

impl SignedDirectory {
    /// Wraps a signed document; nothing is checked until [`SignedDirectory::verify`].
    pub fn from_signed(signed: Signed) -> Self {
        SignedDirectory(signed)
    }

    /// The signed document.
    pub fn signed(&self) -> &Signed {
        &self.0
    }

    /// Parses the JSON a server sent or a cache kept, refusing oversized input before parsing.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        if json.len() > MAX_SIGNED_JSON_LEN {
            return Err(Error::refused(
                WHAT,
                format!("larger than {MAX_SIGNED_JSON_LEN} bytes"),
            ));
        }
        Ok(serde_json::from_slice(json)?)
    }

    /// The JSON form, for serving or caching.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Checks the directory against the pinned `authority` key at time `now`, given the version
    /// of the directory the device already trusts, if any.
    ///
    /// Refuses ([`Error::Refused`] with `what: "directory"`) with one of these reasons, in the
    /// order checked: payload too large; `signed by another key`; `signature does not verify`;
    /// `unsupported format N`; `payload does not parse: ...`; `invalid content: ...`;
    /// `expired at ...` (`now >= expires_at`); `issued in the future ...` (more than
    /// [`CLOCK_SKEW`] ahead of `now`); `version N is older than the cached version M`. The same
    /// version as the cached one is accepted: it is the same directory fetched again.
    pub fn verify(
        &self,
        authority: &VerifyingKey,
        now: DateTime<Utc>,
        cached_version: Option<u64>,
    ) -> Result<VerifiedDirectory> {
        let refuse = |reason: String| Error::refused(WHAT, reason);
        if self.0.payload.len() > MAX_PAYLOAD_LEN {
            return Err(refuse(format!("payload larger than {MAX_PAYLOAD_LEN} bytes")));
        }
        let probe: FormatProbe = self.0.verify(DocumentKind::Directory, authority)?;
        if !DIRECTORY_FORMATS.contains(&probe.format) {
            return Err(refuse(format!("unsupported format {}", probe.format)));
        }
        let body: DirectoryBody = serde_json::from_slice(&self.0.payload)
            .map_err(|e| refuse(format!("payload does not parse: {e}")))?;
        body.validate()
            .map_err(|e| refuse(format!("invalid content: {e}")))?;
        if now >= body.expires_at {
            return Err(refuse(format!("expired at {}", body.expires_at.to_rfc3339())));
        }
        if body.issued_at.signed_duration_since(now) > CLOCK_SKEW {
            return Err(refuse(format!(
                "issued in the future ({}); is the device clock right?",
                body.issued_at.to_rfc3339()
            )));
        }
        if let Some(cached) = cached_version.filter(|cached| body.version < *cached) {
            return Err(refuse(format!(
                "version {} is older than the cached version {cached}",
                body.version
            )));
        }
        Ok(VerifiedDirectory {
            body,
            signed: self.clone(),
        })
    }
}

/// A directory that passed [`SignedDirectory::verify`] at the time given to it. Keep
/// [`VerifiedDirectory::signed`] in the cache and verify it again when the app starts.
#[derive(Debug, Clone)]
pub struct VerifiedDirectory {
    body: DirectoryBody,
    signed: SignedDirectory,
}

impl VerifiedDirectory {
    /// The verified content.
    pub fn body(&self) -> &DirectoryBody {
        &self.body
    }

    /// The signed form it came from, to cache or pass on.
    pub fn signed(&self) -> &SignedDirectory {
        &self.signed
    }

    /// The directory's format: 1, or 2 with the intake section.
    pub fn format(&self) -> u32 {
        self.body.format
    }

    /// The intake's receipt keys, gateway keys and relays (format 2).
    pub fn intake(&self) -> Option<&Intake> {
        self.body.intake.as_ref()
    }

    /// The directory's version.
    pub fn version(&self) -> u64 {
        self.body.version
    }

    /// When it was signed.
    pub fn issued_at(&self) -> DateTime<Utc> {
        self.body.issued_at
    }

    /// When it stops being accepted.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.body.expires_at
    }

    /// All units, in directory order.
    pub fn units(&self) -> &[Unit] {
        &self.body.units
    }

    /// All hotlines, in directory order.
    pub fn hotlines(&self) -> &[Hotline] {
        &self.body.hotlines
    }

    /// All report categories, in directory order.
    pub fn categories(&self) -> &[Category] {
        &self.body.categories
    }

    /// The unit with this id.
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.body.units.iter().find(|unit| unit.id == id)
    }

    /// The report category with this id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.body.categories.iter().find(|category| category.id == id)
    }

    /// The unit to send a report from `region` to: one serving exactly that region (`DK-84`)
    /// before one serving its whole country (`DK`); the first in directory order on a tie. A
    /// unit serving only part of a country is never picked for the country code alone.
    pub fn unit_for_region(&self, region: &str) -> Option<&Unit> {
        let region = normalise(region);
        self.body
            .units
            .iter()
            .filter_map(|unit| Some((coverage(&unit.regions, &region)?, unit)))
            .filter(|(coverage, _)| *coverage != Coverage::Part)
            .min_by_key(|(coverage, _)| *coverage)
            .map(|(_, unit)| unit)
    }

    /// Every unit a reporter in `region` could choose, most specific first: those serving exactly
    /// that region, then those serving its whole country, then (for a country code) those
    /// serving a part of it. Directory order within each group.
    pub fn units_for_region(&self, region: &str) -> Vec<&Unit> {
        ranked(&self.body.units, &normalise(region), |unit| &unit.regions)
    }

    /// The hotlines for `region`, ranked as in [`VerifiedDirectory::units_for_region`].
    pub fn hotlines_for_region(&self, region: &str) -> Vec<&Hotline> {
        ranked(&self.body.hotlines, &normalise(region), |hotline| {
            &hotline.regions
        })
    }

    /// The key that checks alerts and replies signed by unit `id`.
    pub fn verifying_key_for_unit(&self, id: &str) -> Option<VerifyingKey> {
        self.unit(id).map(|unit| unit.verifying_key)
    }

    /// The key reports for unit `id` are sealed to.
    pub fn encryption_key_for_unit(&self, id: &str) -> Option<EncryptionPublicKey> {
        self.unit(id).map(|unit| unit.encryption_key)
    }
}

/// How well a list of served regions covers a requested region; lower is more specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Coverage {
    /// Serves exactly the requested region.
    Exact,
    /// Serves the whole country the requested subdivision lies in.
    Country,
    /// Serves a subdivision of the requested country.
    Part,
}

fn normalise(region: &str) -> String {
    region.trim().to_ascii_uppercase()
}

fn coverage(served: &[String], region: &str) -> Option<Coverage> {
    let inside = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('-'))
    };
    served
        .iter()
        .filter_map(|code| match code.as_str() {
            code if code == region => Some(Coverage::Exact),
            code if inside(region, code) => Some(Coverage::Country),
            code if inside(code, region) => Some(Coverage::Part),
            _ => None,
        })
        .min()
}

fn ranked<'a, T>(items: &'a [T], region: &str, regions: impl Fn(&T) -> &[String]) -> Vec<&'a T> {
    let mut matches: Vec<(Coverage, &T)> = items
        .iter()
        .filter_map(|item| Some((coverage(regions(item), region)?, item)))
        .collect();
    // A stable sort keeps directory order within each group.
    matches.sort_by_key(|(coverage, _)| *coverage);
    matches.into_iter().map(|(_, item)| item).collect()
}
