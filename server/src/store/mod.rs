//! Storage behind one trait, so that the embedded SQLite store and a PostgreSQL store serve the
//! same handlers. The store holds only what the server may know: sealed envelopes and chunks,
//! which unit they are for, sizes, times, delivery state, and hashes of case secrets.
//!
//! Every method that the API acknowledges to a client returns only after the change is durable
//! (committed and synced to disk).

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tipline_core::report::{CaseId, MessageId, ReportId};

/// The shapes the store shares with the API: a declared attachment, a delivery to a desk with
/// its attachments' upload state, and a stored case message with its direction.
pub use tipline_core::api::{
    AttachmentProgress, DeclaredAttachment, Delivery, MessageDirection, SealedMessage,
};

/// A storage failure. Client mistakes are not storage errors: the methods return them as
/// outcomes (`Conflict`, `NotFound`...), so the handlers can map them to 4xx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed; the message is for the server's log, never for a client.
    #[error("database: {0}")]
    Database(String),
    /// The database cannot be reached now (lost connection, restarting); the message is for
    /// the server's log. Clients are told 503 `storage_unavailable` and retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The store is shutting down.
    #[error("store closed")]
    Closed,
    /// The message id is taken by another message.
    #[error("message id taken by another message")]
    MessageIdTaken,
}

/// The keys an alert query for `region` matches, in ASCII lower case: the region itself and its
/// country (the part before the first `-`; the same key twice for a country). A query for
/// `DK-84` matches alerts for `DK-84` and for `DK`; a query for `DK` matches `DK` alerts only.
/// Every store applies this one rule.
pub fn alert_region_keys(region: &str) -> (String, String) {
    let region = region.to_ascii_lowercase();
    let country = region
        .split_once('-')
        .map_or(region.as_str(), |(country, _)| country)
        .to_owned();
    (region, country)
}

/// The store's result type.
pub type StoreResult<T> = Result<T, StoreError>;

/// A report as submitted, already checked by the handler (shape, size, stamp, unit exists).
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The envelope's message id: the idempotency key.
    pub report_id: ReportId,
    /// The unit the envelope is addressed to.
    pub unit_id: String,
    /// The envelope's wire bytes.
    pub envelope: Vec<u8>,
    /// SHA-256 of `envelope`.
    pub envelope_sha256: [u8; 32],
    /// The case this report opens.
    pub case_id: CaseId,
    /// SHA-256 of the case secret.
    pub case_secret_hash: [u8; 32],
    /// The attachments to be uploaded.
    pub attachments: Vec<DeclaredAttachment>,
    /// When the server received it (rounded as the handler sees fit).
    pub received_at: DateTime<Utc>,
    /// The receipt the server signed for it (JSON of a `Signed`), returned again on retries.
    pub receipt: Vec<u8>,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Stored now; the receipt is the one given.
    Created,
    /// The same envelope was stored before: here is the receipt given then.
    Duplicate {
        /// The receipt stored with the first submission.
        receipt: Vec<u8>,
    },
    /// Another envelope was stored under this report id.
    Conflict,
    /// The case id is in use by another case secret.
    CaseConflict,
}

/// What became of an attachment chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Appended; the new offset.
    Appended {
        /// Bytes received so far.
        offset: u64,
    },
    /// The offset given is not where the upload stands; the client should ask and resume.
    OffsetMismatch {
        /// Where the upload stands.
        offset: u64,
    },
    /// The chunk would go past the declared size.
    TooLong,
    /// No such report or attachment, or the case secret does not match.
    NotFound,
}

/// A case as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    /// The case id.
    pub case_id: CaseId,
    /// The unit that handles it now.
    pub unit_id: String,
    /// SHA-256 of the case secret.
    pub case_secret_hash: [u8; 32],
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    /// The alert id.
    pub alert_id: MessageId,
    /// The issuing unit.
    pub unit_id: String,
    /// The regions it is for.
    pub regions: Vec<String>,
    /// The signed alert as JSON (a `Signed`), served as is.
    pub signed: Vec<u8>,
    /// When it stops being served.
    pub expires_at: DateTime<Utc>,
}

/// What became of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// Moved to the other unit, queued for its desk.
    Moved,
    /// No such report for the unit that asked.
    NotFound,
}

/// What an expiry deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Reports never acknowledged.
    pub reports: u64,
    /// Uploads that never completed, of reports that stay.
    pub uploads: u64,
}

/// Counts for `/metrics`: no identifiers, only totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Reports waiting for a desk (queued or leased, not acknowledged).
    pub pending_reports: u64,
    /// Reports acknowledged and not yet deleted.
    pub acknowledged_reports: u64,
}

/// The storage of the intake server.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new report durably, idempotently on its id: the same envelope again is a
    /// `Duplicate` with the first receipt, another envelope under the id a `Conflict`. Creates
    /// the case (id, unit, secret hash); a case id already bound to another secret hash is a
    /// `CaseConflict` and nothing is stored.
    async fn submit_report(&self, report: NewReport) -> StoreResult<SubmitOutcome>;

    /// Leases up to `limit` reports of `unit_id` that are queued or whose lease has expired,
    /// oldest first, until `now + lease`, and returns them; fewer once their envelopes fill
    /// [`tipline_core::api::bounds::PAGE_ENVELOPE_BYTES`] (the first is always leased), the rest
    /// staying queued.
    async fn lease_reports(
        &self,
        unit_id: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;

    /// The earliest lease expiry among `unit_id`'s leased, unacknowledged reports, so a live
    /// stream knows when to look again.
    async fn next_lease_expiry(&self, unit_id: &str) -> StoreResult<Option<DateTime<Utc>>>;

    /// Acknowledges a report of `unit_id` durably. Idempotent: `true` if the report exists for
    /// that unit (acknowledged now or before), `false` if not.
    async fn ack_report(&self, unit_id: &str, report_id: ReportId, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Acknowledges several reports of `unit_id` durably, in one commit: all of them or, if the
    /// store fails, none. Idempotent like [`Store::ack_report`]; returns the ids that are not
    /// reports of that unit (left as they are), in the order given, each once.
    async fn ack_reports(
        &self,
        unit_id: &str,
        report_ids: &[ReportId],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ReportId>>;

    /// Appends sealed bytes to an attachment at `offset`, durably, if `case_secret_hash` matches
    /// the report's case.
    async fn append_attachment(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: [u8; 32],
        offset: u64,
        bytes: &[u8],
    ) -> StoreResult<AppendOutcome>;

    /// Upload state of an attachment, if `case_secret_hash` matches (for the reporter) or, with
    /// `None`, for the unit's desk.
    async fn attachment_state(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: Option<[u8; 32]>,
    ) -> StoreResult<Option<AttachmentProgress>>;

    /// Reads `len` sealed bytes of an attachment of a report of `unit_id` from `offset`.
    async fn read_attachment(
        &self,
        unit_id: &str,
        report_id: ReportId,
        index: u16,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<Vec<u8>>>;

    /// Moves a report and its case from `from_unit` to `to_unit` with the envelope re-sealed to
    /// `to_unit`, replacing the declared attachments (the desk uploads them again, re-sealed,
    /// with the secret whose SHA-256 is `upload_hash`), and queues it for the new unit's desk.
    async fn transfer_report(
        &self,
        from_unit: &str,
        report_id: ReportId,
        to_unit: &str,
        envelope: Vec<u8>,
        attachments: Vec<DeclaredAttachment>,
        upload_hash: Option<[u8; 32]>,
    ) -> StoreResult<TransferOutcome>;

    /// The case, if it exists.
    async fn case(&self, case_id: CaseId) -> StoreResult<Option<CaseRecord>>;

    /// Appends a message to a case durably. Idempotent on `message_id`: a repeat returns the
    /// stored message; an id taken by another message (in another case, or another envelope or
    /// direction) is [`StoreError::MessageIdTaken`].
    async fn add_message(
        &self,
        case_id: CaseId,
        message_id: MessageId,
        direction: MessageDirection,
        envelope: Vec<u8>,
        now: DateTime<Utc>,
    ) -> StoreResult<SealedMessage>;

    /// Messages of a case with `seq > after`, in order, at most `limit`, and fewer once their
    /// envelopes fill [`tipline_core::api::bounds::PAGE_ENVELOPE_BYTES`] (the first is always given).
    async fn messages(&self, case_id: CaseId, after: i64, limit: u32) -> StoreResult<Vec<SealedMessage>>;

    /// The published signed directory (JSON) of `format` and its version. One directory is kept
    /// per format, so that apps reading only an older format keep getting one.
    async fn directory(&self, format: u32) -> StoreResult<Option<(u64, Vec<u8>)>>;

    /// Replaces the published directory of `format` if `version` is higher than the stored one of
    /// that format; `false` otherwise.
    async fn publish_directory(&self, format: u32, version: u64, signed: Vec<u8>) -> StoreResult<bool>;

    /// Stores an alert; idempotent on its id.
    async fn add_alert(&self, alert: StoredAlert) -> StoreResult<()>;

    /// Alerts for `region` (exact region or its country, e.g. `DK` for `DK-84`) that have not
    /// expired at `now`, newest first, at most `limit`.
    async fn alerts(&self, region: &str, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<StoredAlert>>;

    /// Deletes reports (with their attachments and case messages) acknowledged before
    /// `acked_before`, and expired alerts; returns how many reports went.
    async fn purge(&self, acked_before: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Deletes reports never acknowledged and received before `received_before` (with their
    /// attachments, and their cases and messages if no report is left in the case), and the
    /// uploads that are still incomplete of the reports received before it.
    async fn expire(&self, received_before: DateTime<Utc>) -> StoreResult<Expired>;

    /// Bytes the store takes on disk for what it holds (for the storage budget).
    async fn usage(&self) -> StoreResult<u64>;

    /// Totals for `/metrics`.
    async fn stats(&self) -> StoreResult<StoreStats>;

    /// Whether the store answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
}
