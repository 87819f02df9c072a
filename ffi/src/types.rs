//! The plain records and enums the bindings carry, each mirroring a core type field for field.
//! Moments are `SystemTime` (Kotlin `Instant`, Swift `Date`, Python `datetime`), report, case
//! and message ids are 32 lowercase hex digits, keys are base64url without padding. The
//! conversions are in `convert.rs`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How a client is set up.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ClientConfig {
    /// Where the client keeps its files: a folder in the app's private storage.
    pub storage_dir: String,
    /// The intake server, e.g. `https://intake.example.org`.
    pub base_url: String,
    /// The authority's Ed25519 public key (base64url), pinned in the app build.
    pub authority_key: String,
    /// SHA-256 of the server certificate's SubjectPublicKeyInfo (base64url), to pin the TLS key.
    #[uniffi(default)]
    pub tls_pin: Option<String>,
    /// The bound of every call to the server; the core's default (30 s) when absent.
    #[uniffi(default)]
    pub timeout: Option<Duration>,
    /// An Oblivious HTTP relay to send every call through, so the intake never sees the
    /// device's address; given with `gateway_keys`. When absent, the relay the verified
    /// directory names, if any.
    #[uniffi(default)]
    pub relay_url: Option<String>,
    /// The intake gateway's key configurations (`application/ohttp-keys`, base64url), given
    /// with `relay_url`.
    #[uniffi(default)]
    pub gateway_keys: Option<String>,
}

/// The languages the core speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Language {
    /// Spanish, `es`.
    Spanish,
    /// English, `en`: the fallback for any string missing elsewhere.
    English,
    /// Arabic, `ar`, written right to left.
    Arabic,
    /// Danish, `da`.
    Danish,
}

/// Which way text runs, for the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Direction {
    /// Left to right.
    LeftToRight,
    /// Right to left (Arabic).
    RightToLeft,
}

/// How precisely a position is kept: the device snaps it to a grid of this size before anything
/// is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Precision {
    /// About 100 m: the street.
    Street,
    /// About 1 km: the neighbourhood.
    Neighbourhood,
    /// About 10 km: the town.
    Town,
    /// About 50 km: the region.
    Region,
}

/// When it happened.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum When {
    /// At a known moment.
    Exact {
        /// The moment.
        at: SystemTime,
    },
    /// Some time between two moments.
    Between {
        /// The earliest it can have been.
        earliest: SystemTime,
        /// The latest it can have been.
        latest: SystemTime,
    },
}

/// Where it happened, as the reporter gives it on the device.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum DraftPlace {
    /// The phone's position, blurred to `precision` before anything is stored.
    Position {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// The precision the reporter chose.
        precision: Precision,
    },
    /// A place in the reporter's words.
    Described {
        /// The description.
        text: String,
    },
}

/// Someone involved.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Person {
    /// What they look like, what they did, how the reporter knows them.
    pub description: String,
    /// A name or nickname, if known.
    #[uniffi(default)]
    pub name: Option<String>,
}

/// How the unit may reach the reporter outside the app, if the reporter wants that.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct Contact {
    /// The reporter's name.
    #[uniffi(default)]
    pub name: Option<String>,
    /// A phone number.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// An email address.
    #[uniffi(default)]
    pub email: Option<String>,
}

/// A file the reporter attaches, by path: copy the picked file to the app's cache and pass the
/// copy's path. The core reads it in chunks, so a long video never sits whole in memory, and
/// never deletes it: a filed report keeps its own sealed copy in the outbox, so the app may
/// remove its copy once `file_report` returns. Photo metadata (JPEG, PNG up to 32 MiB) is
/// stripped on the device before sealing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DraftAttachment {
    /// The file name.
    pub name: String,
    /// Its media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Where the file is, metadata still in.
    pub path: String,
}

/// A report being written.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Draft {
    /// A category id from the directory.
    pub category: String,
    /// What happened.
    pub text: String,
    /// The language the report is written in (`da`, `es`, `ar`, `en`, or another tag).
    pub language: String,
    /// The reporter's region (ISO 3166, e.g. `DK-84`), used to pick the unit.
    #[uniffi(default)]
    pub region: Option<String>,
    /// The unit chosen by the reporter; absent to take the directory's unit for `region`.
    #[uniffi(default)]
    pub unit_id: Option<String>,
    /// When it happened.
    #[uniffi(default)]
    pub happened: Option<When>,
    /// Where it happened.
    #[uniffi(default)]
    pub place: Option<DraftPlace>,
    /// The people involved.
    #[uniffi(default)]
    pub people: Vec<Person>,
    /// How to reach the reporter, if they wish.
    #[uniffi(default)]
    pub contact: Option<Contact>,
    /// Files to attach.
    #[uniffi(default)]
    pub attachments: Vec<DraftAttachment>,
}

/// What pressing "send" gives the reporter, even offline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Filed {
    /// The report id.
    pub report_id: String,
    /// The case id.
    pub case_id: String,
    /// The codename to show once and for the reporter to keep: it recovers the case anywhere.
    pub codename: String,
    /// The unit it goes to.
    pub unit_id: String,
    /// For each attachment, whether its metadata was stripped (false: sent as it was; say so).
    pub stripped: Vec<bool>,
}

/// Where an outbox item stands.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum OutboxStatus {
    /// Waiting for its next attempt: not sent yet, or stopped by something that passes (the
    /// network, a busy server, this phone's storage or key store), never by a refusal.
    Queued {
        /// When it will be tried.
        next_attempt: SystemTime,
        /// Why the last attempt stopped (a localisation id such as `reason-offline` or
        /// `reason-local`), if one did.
        last_error: Option<String>,
    },
    /// Being sent.
    Sending {
        /// How much has reached the server, from 0 to 1, envelope and attachments together.
        progress: f32,
    },
    /// On the server with every attachment; the server's signed receipt is checked and kept.
    Delivered {
        /// When the server's receipt says it received it.
        received_at: SystemTime,
    },
    /// Refused for good by the server (a 4xx other than 408 and 429); kept until the reporter
    /// retries it.
    Failed {
        /// Why (the localisation id `reason-rejected`).
        reason: String,
        /// The HTTP status the server refused it with.
        status: u16,
        /// The server's stable error code (`bad_envelope`, `unknown_unit`...).
        code: String,
    },
    /// The server took the report but its signed receipt does not verify: kept for the reporter
    /// to see (`outbox-receipt-unverified`), never sent again as new.
    ReceiptUnverified,
}

/// One outbox item for a screen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OutboxItem {
    /// The report id.
    pub report_id: String,
    /// The unit it is for.
    pub unit_id: String,
    /// Its case.
    pub case_id: String,
    /// When it was written.
    pub created: SystemTime,
    /// Where it stands.
    pub status: OutboxStatus,
}

/// What one flush did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FlushSummary {
    /// Items delivered by this flush.
    pub delivered: u32,
    /// Items still waiting (failed attempts included).
    pub pending: u32,
    /// Items refused for good.
    pub failed: u32,
    /// Items whose receipt did not verify.
    pub unverified: u32,
}

/// A unit of the directory.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UnitInfo {
    /// Its id.
    pub id: String,
    /// Its name per language code.
    pub names: HashMap<String, String>,
    /// Regions served (ISO 3166 codes).
    pub regions: Vec<String>,
    /// Languages in which it takes reports.
    pub languages: Vec<String>,
}

/// A report category of the directory.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CategoryInfo {
    /// Its id, for [`Draft::category`].
    pub id: String,
    /// Its label per language code (`es`, `en`, `ar` and `da` at least).
    pub labels: HashMap<String, String>,
}

/// The verified directory in use.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DirectoryInfo {
    /// Its version; devices never go back to an older one.
    pub version: u64,
    /// When the authority signed it.
    pub issued_at: SystemTime,
    /// When devices stop using it.
    pub expires_at: SystemTime,
    /// The units that receive reports.
    pub units: Vec<UnitInfo>,
    /// What a report can be about.
    pub categories: Vec<CategoryInfo>,
}

/// A case on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseSummary {
    /// The case id.
    pub case_id: String,
    /// The unit handling it, as last known (empty until known after a recovery).
    pub unit_id: String,
    /// When it was added to this device.
    pub created: SystemTime,
}

/// One message of a case conversation as the reporter sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConversationMessage {
    /// The message id.
    pub message_id: String,
    /// True for the unit's replies (signature checked), false for the reporter's follow-ups.
    pub from_unit: bool,
    /// The unit that wrote it or that it went to.
    pub unit_id: String,
    /// The text; absent for a follow-up sent from another device (sealed to the unit).
    pub text: Option<String>,
    /// When its author sent it.
    pub sent_at: Option<SystemTime>,
    /// For a unit's status notice, where the case stands (the text says it in words); absent
    /// for replies and follow-ups.
    #[uniffi(default = None)]
    pub status: Option<CaseStatus>,
}

/// What a background check of the cases found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct CaseCheck {
    /// Cases asked.
    pub checked: u32,
    /// Cases with a new reply or status notice since the last look.
    pub with_news: u32,
    /// Cases not asked: closed by the unit, or quiet for longer than the server keeps a case.
    pub skipped: u32,
    /// Cases whose question failed (no connection): asked again next time.
    pub failed: u32,
}

/// Where a unit says a case stands, as its status notice tells the reporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CaseStatus {
    /// The report was received and read.
    Received,
    /// The unit is looking into it.
    InProgress,
    /// The unit closed the case: nothing more will come.
    Closed,
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Severity {
    /// Information and advice.
    Info,
    /// Be watchful.
    Warning,
    /// Immediate danger.
    Danger,
}

/// An alert whose signature checked against the directory, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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
    pub expires_at: SystemTime,
}

/// A hotline ready to show and dial.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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
