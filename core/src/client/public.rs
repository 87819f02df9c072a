//! What anyone may read: alerts for a region (kept only if their signature checks against the
//! directory and they have not expired) and hotlines with "open now" in their own time zone.

use chrono::{DateTime, Utc};

use super::Client;
use crate::alert::{Alert, Severity};
use crate::hotline::{dial_uri, open_status, status_text, OpenStatus};
use crate::l10n::{Language, Localizer};
use crate::{Error, Result};

/// An alert ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    /// The alert's id.
    pub alert_id: String,
    /// The unit that issued it.
    pub unit_id: String,
    /// How urgent it is.
    pub severity: Severity,
    /// The severity's label in the reporter's language.
    pub severity_label: String,
    /// The title, in the reporter's language if the unit wrote one.
    pub title: String,
    /// The text.
    pub body: String,
    /// When it stops being shown.
    pub expires_at: DateTime<Utc>,
}

/// A hotline ready to show and dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotlineView {
    /// Its id.
    pub id: String,
    /// Its name in the reporter's language (else English, else any).
    pub name: String,
    /// The number as people write it.
    pub display: String,
    /// A `tel:` URI for the dialler.
    pub dial_uri: String,
    /// Whether it is open now.
    pub open_now: bool,
    /// "Open now, until 22:00" or "Closed, opens tomorrow at 08:00", in the reporter's language.
    pub status: String,
}

fn localized(map: &std::collections::BTreeMap<String, String>, language: Language) -> &str {
    crate::l10n::label(map, language)
}

impl Client {
    /// The active alerts for `region`, verified against the directory; forged, altered,
    /// expired or unknown-unit alerts are left out.
    pub async fn alerts(&self, region: &str, language: Language) -> Result<Vec<AlertView>> {
        let directory = self.require_directory()?;
        let l10n = Localizer::new(language);
        let now = Utc::now();
        let signed = self.api().alerts(region).await?;
        Ok(signed
            .iter()
            .filter_map(|s| Alert::verify_with_directory(s, &directory, now).ok())
            .map(|alert| {
                let (title, body) = alert.localised(language.code(), "en");
                let severity_id = match alert.severity {
                    Severity::Info => "severity-info",
                    Severity::Warning => "severity-warning",
                    Severity::Danger => "severity-danger",
                };
                AlertView {
                    alert_id: alert.alert_id.to_string(),
                    unit_id: alert.unit_id.clone(),
                    severity: alert.severity,
                    severity_label: l10n.text(severity_id),
                    title: title.to_owned(),
                    body: body.to_owned(),
                    expires_at: alert.expires_at,
                }
            })
            .collect())
    }

    /// The hotlines for `region` from the directory, with their status at `now`.
    pub fn hotlines(&self, region: &str, language: Language, now: DateTime<Utc>) -> Result<Vec<HotlineView>> {
        let directory = self.require_directory()?;
        let l10n = Localizer::new(language);
        directory
            .hotlines_for_region(region)
            .into_iter()
            .map(|h| {
                // A line in a time zone this version does not carry is still shown and can be
                // dialled; its hours say to update the app rather than the whole list failing.
                let status = match open_status(h, now) {
                    Ok(status) => Some(status),
                    Err(Error::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                Ok(HotlineView {
                    id: h.id.clone(),
                    name: localized(&h.names, language).to_owned(),
                    display: h.display.clone(),
                    dial_uri: dial_uri(h),
                    open_now: matches!(status, Some(OpenStatus::OpenNow { .. })),
                    status: match &status {
                        Some(status) => status_text(status, now, &l10n),
                        None => l10n.text("hotline-zone-unknown"),
                    },
                })
            })
            .collect()
    }
}
