//! Alerts a unit broadcasts to the citizens of some regions: signed with the unit's Ed25519 key,
//! localised, and with an expiry. A device shows an alert only if its signature checks against
//! the key the directory lists for that unit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::{SigningKey, VerifyingKey};
use crate::report::MessageId;
use crate::signed::{DocumentKind, Signed};
use crate::{Error, Result};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Information and advice.
    Info,
    /// Be watchful.
    Warning,
    /// Immediate danger.
    Danger,
}

/// An alert as the unit signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Its id.
    pub alert_id: MessageId,
    /// The unit that issues it.
    pub unit_id: String,
    /// ISO 3166 codes of the regions it is for (`DK`, `DK-84`).
    pub regions: Vec<String>,
    /// How urgent it is.
    pub severity: Severity,
    /// Title per language code.
    pub title: BTreeMap<String, String>,
    /// Text per language code.
    pub body: BTreeMap<String, String>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops being shown.
    pub expires_at: DateTime<Utc>,
}

impl Alert {
    /// Checks the alert's own rules: 1 to 100 regions, a body in every language that has a
    /// title, sizes, an expiry after issue.
    pub fn validate(&self) -> Result<()> {
        crate::envelope::check_unit_id(&self.unit_id)?;
        if self.regions.is_empty() || self.regions.len() > 100 {
            return Err(Error::invalid("alert.regions", "between 1 and 100 regions"));
        }
        if self.title.is_empty() || self.title.keys().any(|lang| !self.body.contains_key(lang)) {
            return Err(Error::invalid(
                "alert.title",
                "every title needs a body in the same language",
            ));
        }
        let too_long = self.title.values().any(|t| t.chars().count() > 200)
            || self.body.values().any(|b| b.chars().count() > 5_000)
            || self.title.len() > 20;
        if too_long {
            return Err(Error::invalid(
                "alert",
                "titles at most 200 and bodies at most 5000 characters",
            ));
        }
        if self.expires_at <= self.issued_at {
            return Err(Error::invalid("alert.expires_at", "must be after issued_at"));
        }
        Ok(())
    }

    /// Signs it with the unit's key.
    pub fn sign(&self, unit_key: &SigningKey) -> Result<Signed> {
        self.validate()?;
        Signed::sign(DocumentKind::Alert, self, unit_key)
    }

    /// Checks a signed alert against the key the directory lists for `unit_id`, and refuses it
    /// if it has expired or claims another unit.
    pub fn verify(
        signed: &Signed,
        unit_id: &str,
        unit_key: &VerifyingKey,
        now: DateTime<Utc>,
    ) -> Result<Alert> {
        let alert: Alert = signed.verify(DocumentKind::Alert, unit_key)?;
        if alert.unit_id != unit_id {
            return Err(Error::refused("alert", "claims another unit"));
        }
        alert
            .validate()
            .map_err(|e| Error::refused("alert", e.to_string()))?;
        if now >= alert.expires_at {
            return Err(Error::refused("alert", "expired"));
        }
        Ok(alert)
    }

    /// Checks a signed alert against a verified directory: the unit it names must be listed,
    /// and the signature must check against that unit's key.
    pub fn verify_with_directory(
        signed: &Signed,
        directory: &crate::directory::VerifiedDirectory,
        now: DateTime<Utc>,
    ) -> Result<Alert> {
        // The unit is read from the payload before the signature is checked, only to find the
        // key; `verify` then checks that the signed payload names that same unit.
        #[derive(Deserialize)]
        struct Claim {
            unit_id: String,
        }
        let claim: Claim = serde_json::from_slice(&signed.payload)
            .map_err(|_| Error::refused("alert", "payload does not parse"))?;
        let key = directory
            .verifying_key_for_unit(&claim.unit_id)
            .ok_or_else(|| Error::refused("alert", "issued by a unit the directory does not list"))?;
        Self::verify(signed, &claim.unit_id, &key, now)
    }

    /// The title and body in `language`, else in `fallback`, else in the alphabetically first
    /// language it has.
    pub fn localised(&self, language: &str, fallback: &str) -> (&str, &str) {
        let lang = [language, fallback]
            .into_iter()
            .find(|l| self.title.contains_key(*l))
            .or_else(|| self.title.keys().next().map(String::as_str))
            .unwrap_or_default();
        let title = self.title.get(lang).map(String::as_str).unwrap_or_default();
        let body = self.body.get(lang).map(String::as_str).unwrap_or_default();
        (title, body)
    }
}
