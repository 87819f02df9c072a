//! Case conversation messages. A unit's reply is signed with the unit's Ed25519 key and then
//! sealed to the case's reply key, so only the reporter reads it and knows which unit wrote it.
//! A unit's status notice ("received", "being looked at", "closed") travels the same way under
//! a signature context of its own, so that the reporter's app knows where the case stands and
//! clients that predate notices leave them out instead of taking them for replies. A reporter's
//! follow-up is sealed to the unit like a report; it is anonymous and unsigned, and the server
//! admits it only with the case secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codename::CaseKeys;
use crate::crypto::random::RandomSource;
use crate::crypto::Suite;
use crate::envelope::{Envelope, Kind};
use crate::keys::{EncryptionPublicKey, EncryptionSecretKey, SigningKey, VerifyingKey};
use crate::report::{CaseId, MessageId, MAX_TEXT_CHARS};
use crate::signed::{self, Signed};
use crate::{Error, Result};

/// One message in a case, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseMessage {
    /// The case it belongs to.
    pub case_id: CaseId,
    /// Its id; also the envelope's message id.
    pub message_id: MessageId,
    /// The unit that wrote it (replies) or that it is for (follow-ups).
    pub unit_id: String,
    /// The text.
    pub text: String,
    /// When the author sent it, by the author's clock.
    pub sent_at: DateTime<Utc>,
}

/// Where a unit says a case stands, as a status notice tells the reporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// The report was received and read.
    Received,
    /// The unit is looking into it.
    InProgress,
    /// The unit closed the case: nothing more will come.
    Closed,
}

impl CaseStatus {
    /// Every status.
    pub const ALL: [CaseStatus; 3] = [CaseStatus::Received, CaseStatus::InProgress, CaseStatus::Closed];

    /// The name on the wire: `received`, `in_progress`, `closed`.
    pub fn name(self) -> &'static str {
        match self {
            CaseStatus::Received => "received",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::Closed => "closed",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Result<CaseStatus> {
        CaseStatus::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::invalid("status", "one of received, in_progress, closed"))
    }
}

/// A unit's status notice in a case (protocol 9.4): a case message with the status it tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusNotice {
    /// The case it belongs to.
    pub case_id: CaseId,
    /// Its id; also the envelope's message id.
    pub message_id: MessageId,
    /// The unit that sent it.
    pub unit_id: String,
    /// Where the case stands.
    pub status: CaseStatus,
    /// What the reporter reads, in the report's language (chosen by the unit).
    pub text: String,
    /// When the unit sent it, by the unit's clock.
    pub sent_at: DateTime<Utc>,
}

impl StatusNotice {
    /// The notice as a case message, for the rules notices share with replies.
    fn as_message(&self) -> CaseMessage {
        CaseMessage {
            case_id: self.case_id,
            message_id: self.message_id,
            unit_id: self.unit_id.clone(),
            text: self.text.clone(),
            sent_at: self.sent_at,
        }
    }
}

/// What a unit sent in a case: a reply or a status notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitMessage {
    /// A reply with the unit's words.
    Reply(CaseMessage),
    /// A status notice.
    Notice(StatusNotice),
}

impl CaseMessage {
    fn validate(&self) -> Result<()> {
        if self.text.trim().is_empty() {
            return Err(Error::invalid("message.text", "is required"));
        }
        if self.text.chars().count() > MAX_TEXT_CHARS {
            return Err(Error::invalid(
                "message.text",
                format!("is longer than {MAX_TEXT_CHARS} characters"),
            ));
        }
        Ok(())
    }

    fn check_envelope(&self, envelope: &Envelope, case_id: CaseId) -> Result<()> {
        if self.case_id != case_id {
            return Err(Error::invalid("message.case_id", "belongs to another case"));
        }
        if self.message_id.0 != envelope.message_id || self.unit_id != envelope.unit_id {
            return Err(Error::invalid("message", "does not match its envelope"));
        }
        Ok(())
    }
}

/// Signs a unit's reply and seals it to the case's reply key.
pub fn seal_reply_with_rng(
    message: &CaseMessage,
    unit_key: &SigningKey,
    reply_key: &EncryptionPublicKey,
    rng: &mut dyn RandomSource,
) -> Result<Envelope> {
    message.validate()?;
    let signed = serde_json::to_vec(&Signed::sign(signed::DocumentKind::Reply, message, unit_key)?)?;
    let (envelope, _) = Envelope::seal_with_rng(
        Suite::X25519_CHACHA,
        Kind::Reply,
        &message.unit_id,
        reply_key,
        message.message_id.0,
        &signed,
        rng,
    )?;
    Ok(envelope)
}

/// Signs a unit's status notice and seals it to the case's reply key, as a reply is (kind 3).
pub fn seal_notice_with_rng(
    notice: &StatusNotice,
    unit_key: &SigningKey,
    reply_key: &EncryptionPublicKey,
    rng: &mut dyn RandomSource,
) -> Result<Envelope> {
    notice.as_message().validate()?;
    let signed = serde_json::to_vec(&Signed::sign(signed::DocumentKind::Notice, notice, unit_key)?)?;
    let (envelope, _) = Envelope::seal_with_rng(
        Suite::X25519_CHACHA,
        Kind::Reply,
        &notice.unit_id,
        reply_key,
        notice.message_id.0,
        &signed,
        rng,
    )?;
    Ok(envelope)
}

/// Opens a reply with the case's keys and checks the unit's signature with `unit_key` (from the
/// directory, for the unit the envelope names). A status notice is refused: see
/// [`open_unit_message`].
pub fn open_reply(envelope: &Envelope, case: &CaseKeys, unit_key: &VerifyingKey) -> Result<CaseMessage> {
    let signed = open_signed(envelope, case)?;
    let message: CaseMessage = signed.verify(signed::DocumentKind::Reply, unit_key)?;
    message.check_envelope(envelope, case.case_id)?;
    message.validate()?;
    Ok(message)
}

/// Opens what a unit sent in a case, a reply or a status notice, with the case's keys, and
/// checks the unit's signature under the context of the kind it claims.
pub fn open_unit_message(
    envelope: &Envelope,
    case: &CaseKeys,
    unit_key: &VerifyingKey,
) -> Result<UnitMessage> {
    let signed = open_signed(envelope, case)?;
    if let Ok(message) = signed.verify::<CaseMessage>(signed::DocumentKind::Reply, unit_key) {
        message.check_envelope(envelope, case.case_id)?;
        message.validate()?;
        return Ok(UnitMessage::Reply(message));
    }
    let notice: StatusNotice = signed.verify(signed::DocumentKind::Notice, unit_key)?;
    let message = notice.as_message();
    message.check_envelope(envelope, case.case_id)?;
    message.validate()?;
    Ok(UnitMessage::Notice(notice))
}

/// The signed document inside a unit's message, opened with the case's reply key.
fn open_signed(envelope: &Envelope, case: &CaseKeys) -> Result<Signed> {
    if envelope.kind != Kind::Reply {
        return Err(Error::invalid("envelope.kind", "not a reply"));
    }
    let (json, _) = envelope.open(&case.reply_key)?;
    Ok(serde_json::from_slice(&json)?)
}

/// Seals a reporter's follow-up to the unit.
pub fn seal_follow_up_with_rng(
    message: &CaseMessage,
    unit_key: &EncryptionPublicKey,
    rng: &mut dyn RandomSource,
) -> Result<Envelope> {
    message.validate()?;
    let json = serde_json::to_vec(message)?;
    let (envelope, _) = Envelope::seal_with_rng(
        Suite::X25519_CHACHA,
        Kind::FollowUp,
        &message.unit_id,
        unit_key,
        message.message_id.0,
        &json,
        rng,
    )?;
    Ok(envelope)
}

/// Opens a follow-up at the desk of `unit_id` and checks it belongs to `case_id`.
pub fn open_follow_up(
    envelope: &Envelope,
    unit_id: &str,
    case_id: CaseId,
    unit_key: &EncryptionSecretKey,
) -> Result<CaseMessage> {
    if envelope.kind != Kind::FollowUp {
        return Err(Error::invalid("envelope.kind", "not a follow-up"));
    }
    if envelope.unit_id != unit_id {
        return Err(Error::invalid("envelope.unit_id", "addressed to another unit"));
    }
    let (json, _) = envelope.open(unit_key)?;
    let message: CaseMessage = serde_json::from_slice(&json)?;
    message.check_envelope(envelope, case_id)?;
    message.validate()?;
    Ok(message)
}
