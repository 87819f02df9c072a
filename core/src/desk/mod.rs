//! The police desk's runtime (desktop): a unit logs in with its key file, holds the live inbox,
//! opens each report as it arrives, stores it encrypted at rest, downloads and verifies its
//! attachments, acknowledges it, and answers, transfers and broadcasts. It lives in the core,
//! beside the citizen's [`crate::client`], so that it is tested with the protocol it speaks and
//! reusable by any desk front end; like the rest of the core it owns no runtime.
//!
//! - [`client`]: the signed HTTP calls and the live stream ([`sse`]).
//! - `receive`: taking delivered reports: open, store, fetch attachments, acknowledge, in
//!   batches.
//! - [`runtime`]: the receiving loop every desk front end runs.
//! - [`store`]: the passphrase-protected local store.
//! - [`transfer`]: handing a report to another unit, re-sealed to it.

pub mod client;
mod receive;
pub mod runtime;
pub mod sse;
pub mod store;
pub mod transfer;

use chrono::Utc;

use crate::alert::Alert;
use crate::crypto::OsRandom;
use crate::envelope::{open_report, Envelope, Kind};
use crate::keys::{EncryptionSecretKey, UnitKeyFile};
use crate::message::{
    open_follow_up, seal_notice_with_rng, seal_reply_with_rng, CaseMessage, CaseStatus, StatusNotice,
};
use crate::report::{CaseId, MessageId};
use crate::{Error, Result};
pub use client::{publish_directory, Delivery, DeskClient, Download, InboxEvent, InboxStream};
pub use runtime::{DeskEvent, InboxOptions};
pub use store::{AttachmentState, DeskStore, KdfParams, MessageRecord, ReportRecord, Status};

/// What receiving one delivery did.
#[derive(Debug, Clone)]
pub struct Received {
    /// The report as now stored.
    pub record: ReportRecord,
    /// Whether this desk had not stored it before.
    pub first_time: bool,
    /// Attachments the reporter is still uploading: the report stays unacknowledged and comes
    /// again when its lease ends (or call [`Desk::retry_attachments`]).
    pub pending: Vec<u16>,
}

/// A unit's desk: its server connection, its store and its keys.
pub struct Desk {
    client: DeskClient,
    /// Shared with the blocking pool, where the receiving loop's commits run.
    store: std::sync::Arc<DeskStore>,
    keys: UnitKeyFile,
    /// The unit's key that opens reports and follow-ups, made once from `keys` (its public
    /// half and, in a desk build, AWS-LC's copy of it), shared with the tasks that open a batch.
    opener: std::sync::Arc<EncryptionSecretKey>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("unit_id", &self.keys.unit_id)
            .finish_non_exhaustive()
    }
}

impl Desk {
    /// A desk of the unit of `keys`; the client and the store must be that unit's.
    pub fn new(client: DeskClient, store: DeskStore, keys: UnitKeyFile) -> Result<Desk> {
        if client.unit_id() != keys.unit_id || store.unit_id() != keys.unit_id {
            return Err(Error::invalid(
                "desk",
                "the client, store and keys name different units",
            ));
        }
        Ok(Desk {
            client,
            store: std::sync::Arc::new(store),
            opener: std::sync::Arc::new(keys.encryption_key()),
            keys,
        })
    }

    /// The unit.
    pub fn unit_id(&self) -> &str {
        &self.keys.unit_id
    }

    /// The server connection.
    pub fn client(&self) -> &DeskClient {
        &self.client
    }

    /// The local store.
    pub fn store(&self) -> &DeskStore {
        &self.store
    }

    fn open(&self, envelope: &[u8]) -> Result<crate::envelope::OpenedReport> {
        let envelope = Envelope::from_bytes(envelope)?;
        open_report(&envelope, &self.keys.unit_id, &self.opener)
    }

    /// A stored report by id or id prefix.
    pub fn find(&self, id: &str) -> Result<ReportRecord> {
        self.store.find(id)
    }

    /// The stored report of a case, if any.
    pub fn report_for_case(&self, case_id: CaseId) -> Result<Option<ReportRecord>> {
        self.store.report_for_case(case_id)
    }

    /// Sets a report's status.
    pub fn set_status(&self, id: &str, status: Status) -> Result<ReportRecord> {
        let record = self.find(id)?;
        self.store.update_report(&record, |r| r.status = status)
    }

    fn holds(&self, record: &ReportRecord) -> Result<()> {
        match &record.transfer {
            Some(t) if t.done => Err(Error::invalid(
                "report",
                format!("it was transferred to {}, which holds the case now", t.to_unit),
            )),
            _ => Ok(()),
        }
    }

    /// Replies to the reporter: signed by the unit, sealed to the case's reply key, posted, and
    /// kept with its text.
    pub async fn reply(&self, id: &str, text: &str) -> Result<MessageRecord> {
        let record = self.find(id)?;
        self.holds(&record)?;
        let message = CaseMessage {
            case_id: record.case_id,
            message_id: MessageId::random()?,
            unit_id: self.keys.unit_id.clone(),
            text: text.to_owned(),
            sent_at: Utc::now(),
        };
        let envelope = seal_reply_with_rng(
            &message,
            &self.keys.signing_key()?,
            &record.report.reply_key,
            &mut OsRandom::new(),
        )?;
        self.post_unit_message(&record, &envelope, message, None).await
    }

    /// Tells the reporter where the case stands (protocol 9.4): `text` says it in words the
    /// reporter reads (the front end picks them in the report's language); signed by the unit,
    /// sealed to the case's reply key, posted, and kept.
    pub async fn send_notice(&self, id: &str, status: CaseStatus, text: &str) -> Result<MessageRecord> {
        let record = self.find(id)?;
        self.holds(&record)?;
        let notice = StatusNotice {
            case_id: record.case_id,
            message_id: MessageId::random()?,
            unit_id: self.keys.unit_id.clone(),
            status,
            text: text.to_owned(),
            sent_at: Utc::now(),
        };
        let envelope = seal_notice_with_rng(
            &notice,
            &self.keys.signing_key()?,
            &record.report.reply_key,
            &mut OsRandom::new(),
        )?;
        let message = CaseMessage {
            case_id: notice.case_id,
            message_id: notice.message_id,
            unit_id: notice.unit_id,
            text: notice.text,
            sent_at: notice.sent_at,
        };
        self.post_unit_message(&record, &envelope, message, Some(status))
            .await
    }

    /// Posts a sealed reply or notice in the case of `record` and keeps it with its text.
    async fn post_unit_message(
        &self,
        record: &ReportRecord,
        envelope: &Envelope,
        message: CaseMessage,
        status: Option<CaseStatus>,
    ) -> Result<MessageRecord> {
        let seq = self
            .client
            .post_reply(record.case_id, &envelope.to_bytes())
            .await?;
        let stored = MessageRecord {
            message_id: message.message_id,
            seq,
            from_reporter: false,
            unit_id: message.unit_id,
            text: Some(message.text),
            sent_at: Some(message.sent_at),
            status,
        };
        self.store.put_message(record.report_id, &stored)?;
        Ok(stored)
    }

    /// Fetches what is new in a report's case, opens the reporter's follow-ups, stores it, and
    /// returns the whole conversation. Replies are sealed to the reporter: this desk shows the
    /// text of those it wrote itself.
    pub async fn sync_messages(&self, id: &str) -> Result<Vec<MessageRecord>> {
        let record = self.find(id)?;
        self.holds(&record)?;
        let known = self.store.messages(record.report_id)?;
        let fresh = self.client.messages(record.case_id, record.last_seq).await?;
        let mut last_seq = record.last_seq;
        for wire in fresh {
            last_seq = last_seq.max(wire.seq);
            let Ok(envelope) = Envelope::from_bytes(&wire.envelope) else {
                continue;
            };
            let message = match envelope.kind {
                Kind::FollowUp => {
                    match open_follow_up(&envelope, &self.keys.unit_id, record.case_id, &self.opener) {
                        Ok(m) => MessageRecord {
                            message_id: m.message_id,
                            seq: wire.seq,
                            from_reporter: true,
                            unit_id: m.unit_id,
                            text: Some(m.text),
                            sent_at: Some(m.sent_at),
                            status: None,
                        },
                        // Sealed to the unit that held the case before.
                        Err(_) => MessageRecord {
                            message_id: wire.message_id,
                            seq: wire.seq,
                            from_reporter: true,
                            unit_id: envelope.unit_id.clone(),
                            text: None,
                            sent_at: None,
                            status: None,
                        },
                    }
                }
                Kind::Reply => match known.iter().find(|m| m.message_id == wire.message_id) {
                    Some(own) => MessageRecord {
                        seq: wire.seq,
                        ..own.clone()
                    },
                    None => MessageRecord {
                        message_id: wire.message_id,
                        seq: wire.seq,
                        from_reporter: false,
                        unit_id: envelope.unit_id.clone(),
                        text: None,
                        sent_at: None,
                        status: None,
                    },
                },
                Kind::Report => continue,
            };
            self.store.put_message(record.report_id, &message)?;
        }
        self.store
            .update_report(&record, |r| r.last_seq = r.last_seq.max(last_seq))?;
        self.store.messages(record.report_id)
    }

    /// Signs an alert with the unit's key and publishes it; returns its id.
    pub async fn publish_alert(&self, alert: &Alert) -> Result<MessageId> {
        if alert.unit_id != self.keys.unit_id {
            return Err(Error::invalid(
                "alert.unit_id",
                "an alert is published by its own unit",
            ));
        }
        let signed = alert.sign(&self.keys.signing_key()?)?;
        self.client.publish_alert(&signed).await
    }
}
