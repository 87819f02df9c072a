//! Every conversion between the core's types and the bindings' records, in one place. Only
//! representations change here (ids to hex, keys from base64url, moments to `SystemTime`); no
//! rule of the core is repeated. An input that does not convert is refused with the core's own
//! `Error::Invalid` naming the field, so it reaches the app as `ApiError::InvalidInput`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use tipline_core::client::{self as core_client, cases, check, http, outbox, public};
use tipline_core::directory::VerifiedDirectory;
use tipline_core::encoding::unb64_array;
use tipline_core::keys::VerifyingKey;
use tipline_core::{alert, compose, l10n, message, report, Error, Result};

use crate::error::FieldProblem;
use crate::platform::{CoreKeyStore, KeyStore};
use crate::types::*;

/// A moment from the app, as the core keeps it.
fn moment(at: SystemTime, field: &str) -> Result<DateTime<Utc>> {
    let (secs, nanos) = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => (i64::try_from(after.as_secs()).ok(), after.subsec_nanos()),
        Err(before) => {
            let before = before.duration();
            // Whole seconds before the epoch, then the fraction counted forwards again.
            let secs = i64::try_from(before.as_secs()).ok().map(|s| -s);
            match before.subsec_nanos() {
                0 => (secs, 0),
                n => (secs.map(|s| s - 1), 1_000_000_000 - n),
            }
        }
    };
    secs.and_then(|s| DateTime::from_timestamp(s, nanos))
        .ok_or_else(|| Error::invalid(field, "a moment out of range"))
}

/// A base64url key of 32 bytes.
fn key32(text: &str, field: &str) -> Result<[u8; 32]> {
    unb64_array::<32>(text).map_err(|_| Error::invalid(field, "expected 32 bytes in base64url"))
}

/// Converts each element of a list.
pub(crate) fn list<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
}

/// An app's configuration and key store as the core's configuration.
pub(crate) fn client_config(
    config: ClientConfig,
    key_store: Arc<dyn KeyStore>,
) -> Result<core_client::ClientConfig> {
    Ok(core_client::ClientConfig {
        storage_dir: config.storage_dir.into(),
        base_url: config.base_url,
        authority_key: VerifyingKey(key32(&config.authority_key, "authority_key")?),
        tls_pin: config.tls_pin.map(|pin| key32(&pin, "tls_pin")).transpose()?,
        key_store: Arc::new(CoreKeyStore(key_store)),
        timeout: config.timeout.unwrap_or(http::CALL_TIMEOUT),
        oblivious: match (config.relay_url, config.gateway_keys) {
            (None, None) => None,
            (Some(relay_url), Some(keys)) => Some(core_client::transport::ObliviousConfig {
                relay_url,
                key_configs: tipline_core::encoding::unb64(&keys)
                    .map_err(|_| Error::invalid("gateway_keys", "expected base64url"))?,
            }),
            _ => {
                return Err(Error::invalid(
                    "relay_url",
                    "a relay needs the gateway's keys, and keys a relay",
                ))
            }
        },
        local_address: None,
    })
}

/// A report id from the app.
pub(crate) fn report_id(text: &str) -> Result<report::ReportId> {
    report::ReportId::parse(text)
}

/// A case id from the app.
pub(crate) fn case_id(text: &str) -> Result<report::CaseId> {
    report::CaseId::parse(text)
}

impl From<Language> for l10n::Language {
    fn from(language: Language) -> Self {
        match language {
            Language::Spanish => l10n::Language::Spanish,
            Language::English => l10n::Language::English,
            Language::Arabic => l10n::Language::Arabic,
            Language::Danish => l10n::Language::Danish,
        }
    }
}

impl From<l10n::Language> for Language {
    fn from(language: l10n::Language) -> Self {
        match language {
            l10n::Language::Spanish => Language::Spanish,
            l10n::Language::English => Language::English,
            l10n::Language::Arabic => Language::Arabic,
            l10n::Language::Danish => Language::Danish,
        }
    }
}

impl From<l10n::TextDirection> for Direction {
    fn from(direction: l10n::TextDirection) -> Self {
        match direction {
            l10n::TextDirection::LeftToRight => Direction::LeftToRight,
            l10n::TextDirection::RightToLeft => Direction::RightToLeft,
        }
    }
}

impl From<Precision> for report::Precision {
    fn from(precision: Precision) -> Self {
        match precision {
            Precision::Street => report::Precision::Street,
            Precision::Neighbourhood => report::Precision::Neighbourhood,
            Precision::Town => report::Precision::Town,
            Precision::Region => report::Precision::Region,
        }
    }
}

impl From<alert::Severity> for Severity {
    fn from(severity: alert::Severity) -> Self {
        match severity {
            alert::Severity::Info => Severity::Info,
            alert::Severity::Warning => Severity::Warning,
            alert::Severity::Danger => Severity::Danger,
        }
    }
}

impl TryFrom<When> for report::When {
    type Error = Error;

    fn try_from(when: When) -> Result<Self> {
        Ok(match when {
            When::Exact { at } => report::When::Exact {
                at: moment(at, "happened")?,
            },
            When::Between { earliest, latest } => report::When::Between {
                from: moment(earliest, "happened")?,
                to: moment(latest, "happened")?,
            },
        })
    }
}

impl From<DraftPlace> for compose::DraftPlace {
    fn from(place: DraftPlace) -> Self {
        match place {
            DraftPlace::Position {
                latitude,
                longitude,
                precision,
            } => compose::DraftPlace::Position {
                latitude,
                longitude,
                precision: precision.into(),
            },
            DraftPlace::Described { text } => compose::DraftPlace::Described { text },
        }
    }
}

impl From<Person> for report::Person {
    fn from(person: Person) -> Self {
        report::Person {
            name: person.name,
            description: person.description,
        }
    }
}

impl From<Contact> for report::Contact {
    fn from(contact: Contact) -> Self {
        report::Contact {
            name: contact.name,
            phone: contact.phone,
            email: contact.email,
        }
    }
}

impl From<DraftAttachment> for compose::DraftAttachment {
    fn from(attachment: DraftAttachment) -> Self {
        compose::DraftAttachment {
            name: attachment.name,
            media_type: attachment.media_type,
            path: attachment.path.into(),
        }
    }
}

impl TryFrom<Draft> for compose::Draft {
    type Error = Error;

    fn try_from(draft: Draft) -> Result<Self> {
        Ok(compose::Draft {
            unit_id: draft.unit_id,
            region: draft.region,
            category: draft.category,
            text: draft.text,
            when: draft.happened.map(report::When::try_from).transpose()?,
            place: draft.place.map(Into::into),
            people: list(draft.people),
            contact: draft.contact.map(Into::into),
            language: draft.language,
            attachments: list(draft.attachments),
        })
    }
}

impl From<compose::FieldError> for FieldProblem {
    fn from(e: compose::FieldError) -> Self {
        FieldProblem {
            field: e.field,
            code: e.code,
            max: e.max,
        }
    }
}

impl From<FieldProblem> for compose::FieldError {
    fn from(p: FieldProblem) -> Self {
        compose::FieldError {
            field: p.field,
            code: p.code,
            max: p.max,
        }
    }
}

impl From<outbox::Filed> for Filed {
    fn from(filed: outbox::Filed) -> Self {
        Filed {
            report_id: filed.report_id.to_string(),
            case_id: filed.case_id.to_string(),
            codename: filed.codename.as_str().to_owned(),
            unit_id: filed.unit_id,
            stripped: filed.stripped,
        }
    }
}

impl From<outbox::OutboxStatus> for OutboxStatus {
    fn from(status: outbox::OutboxStatus) -> Self {
        match status {
            outbox::OutboxStatus::Queued {
                next_attempt,
                last_error,
            } => OutboxStatus::Queued {
                next_attempt: next_attempt.into(),
                last_error,
            },
            outbox::OutboxStatus::Sending { progress } => OutboxStatus::Sending { progress },
            outbox::OutboxStatus::Delivered { received_at } => OutboxStatus::Delivered {
                received_at: received_at.into(),
            },
            outbox::OutboxStatus::Failed { reason, status, code } => {
                OutboxStatus::Failed { reason, status, code }
            }
            outbox::OutboxStatus::ReceiptUnverified => OutboxStatus::ReceiptUnverified,
        }
    }
}

impl From<outbox::OutboxItem> for OutboxItem {
    fn from(item: outbox::OutboxItem) -> Self {
        OutboxItem {
            report_id: item.report_id.to_string(),
            unit_id: item.unit_id,
            case_id: item.case_id.to_string(),
            created: item.created.into(),
            status: item.status.into(),
        }
    }
}

impl From<outbox::FlushSummary> for FlushSummary {
    fn from(summary: outbox::FlushSummary) -> Self {
        FlushSummary {
            delivered: summary.delivered,
            pending: summary.pending,
            failed: summary.failed,
            unverified: summary.unverified,
        }
    }
}

fn map<'a>(text: impl IntoIterator<Item = (&'a String, &'a String)>) -> HashMap<String, String> {
    text.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl From<&VerifiedDirectory> for DirectoryInfo {
    fn from(directory: &VerifiedDirectory) -> Self {
        DirectoryInfo {
            version: directory.version(),
            issued_at: directory.issued_at().into(),
            expires_at: directory.expires_at().into(),
            units: directory
                .units()
                .iter()
                .map(|u| UnitInfo {
                    id: u.id.clone(),
                    names: map(&u.names),
                    regions: u.regions.clone(),
                    languages: u.languages.clone(),
                })
                .collect(),
            categories: directory
                .categories()
                .iter()
                .map(|c| CategoryInfo {
                    id: c.id.clone(),
                    labels: map(&c.labels),
                })
                .collect(),
        }
    }
}

impl From<Arc<VerifiedDirectory>> for DirectoryInfo {
    fn from(directory: Arc<VerifiedDirectory>) -> Self {
        DirectoryInfo::from(directory.as_ref())
    }
}

impl From<cases::CaseSummary> for CaseSummary {
    fn from(case: cases::CaseSummary) -> Self {
        CaseSummary {
            case_id: case.case_id.to_string(),
            unit_id: case.unit_id,
            created: case.created.into(),
        }
    }
}

impl From<cases::ConversationMessage> for ConversationMessage {
    fn from(message: cases::ConversationMessage) -> Self {
        ConversationMessage {
            message_id: message.message_id.to_string(),
            from_unit: message.from_unit,
            unit_id: message.unit_id,
            text: message.text,
            sent_at: message.sent_at.map(Into::into),
            status: message.status.map(Into::into),
        }
    }
}

impl From<check::CaseCheck> for CaseCheck {
    fn from(check: check::CaseCheck) -> Self {
        CaseCheck {
            checked: check.checked,
            with_news: check.with_news,
            skipped: check.skipped,
            failed: check.failed,
        }
    }
}

impl From<message::CaseStatus> for CaseStatus {
    fn from(status: message::CaseStatus) -> Self {
        match status {
            message::CaseStatus::Received => CaseStatus::Received,
            message::CaseStatus::InProgress => CaseStatus::InProgress,
            message::CaseStatus::Closed => CaseStatus::Closed,
        }
    }
}

impl From<public::AlertView> for AlertView {
    fn from(alert: public::AlertView) -> Self {
        AlertView {
            alert_id: alert.alert_id,
            unit_id: alert.unit_id,
            severity: alert.severity.into(),
            severity_label: alert.severity_label,
            title: alert.title,
            body: alert.body,
            expires_at: alert.expires_at.into(),
        }
    }
}

impl From<public::HotlineView> for HotlineView {
    fn from(hotline: public::HotlineView) -> Self {
        HotlineView {
            id: hotline.id,
            name: hotline.name,
            display: hotline.display,
            dial_uri: hotline.dial_uri,
            open_now: hotline.open_now,
            status: hotline.status,
        }
    }
}

/// Converts a moment for the core's `hotlines(now)`.
pub(crate) fn now(at: SystemTime) -> Result<DateTime<Utc>> {
    moment(at, "now")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn test_moments_round_trip_on_both_sides_of_the_epoch() {
        // Given moments before, at and after 1970, with fractions of a second
        for at in [
            SystemTime::UNIX_EPOCH - Duration::from_millis(1_500),
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        ] {
            // when converted for the core and back, then nothing is lost
            let there = moment(at, "t").unwrap();
            assert_eq!(SystemTime::from(there), at);
        }
        assert_eq!(
            moment(SystemTime::UNIX_EPOCH - Duration::from_millis(1_500), "t")
                .unwrap()
                .timestamp_millis(),
            -1_500
        );
    }

    #[test]
    fn test_bad_keys_name_their_field() {
        let err = key32("not base64!", "authority_key").unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "authority_key"));
    }
}
