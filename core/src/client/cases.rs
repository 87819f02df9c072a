//! The case book: the reporter's cases, their conversations (replies decrypted on the device and
//! their unit signatures checked against the directory), follow-ups sealed to the unit, and
//! recovering a case on another device from its codename alone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::local::{CaseEntry, Local};
use super::Client;
use crate::codename::Codename;
use crate::crypto::OsRandom;
use crate::envelope::{Envelope, Kind};
use crate::message::{open_unit_message, seal_follow_up_with_rng, CaseMessage, CaseStatus, UnitMessage};
use crate::report::{CaseId, MessageId};
use crate::{Error, Result};

/// A case on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    /// The case id.
    pub case_id: CaseId,
    /// The unit handling it, as last known ("" until known after a recovery).
    pub unit_id: String,
    /// When it was added to this device.
    pub created: DateTime<Utc>,
}

/// A follow-up sealed and sent, not yet confirmed by the server: kept so that sending the same
/// words again sends the same message (one message at the unit however many tries), and so that
/// a sync that finds it on the server shows it with its text.
#[derive(Serialize, Deserialize)]
struct PendingFollowUp {
    message: ConversationMessage,
    #[serde(with = "crate::encoding::b64_bytes")]
    envelope: Vec<u8>,
}

/// One message of a conversation as the reporter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationMessage {
    /// The message id.
    pub message_id: MessageId,
    /// `true` for the unit's replies, `false` for the reporter's follow-ups.
    pub from_unit: bool,
    /// The unit that wrote it or that it went to.
    pub unit_id: String,
    /// The text; `None` for a follow-up sent from another device (sealed to the unit, so this
    /// device cannot read it).
    pub text: Option<String>,
    /// When its author sent it.
    pub sent_at: Option<DateTime<Utc>>,
    /// For a unit's status notice, the status it tells (its text says it in words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CaseStatus>,
}

impl Client {
    /// The cases on this device, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseSummary>> {
        Ok(self
            .local
            .cases()?
            .into_iter()
            .map(|c| CaseSummary {
                case_id: c.case_id,
                unit_id: c.unit_id,
                created: c.created,
            })
            .collect())
    }

    /// The codename of a case on this device, to show it again.
    pub fn codename(&self, case_id: CaseId) -> Result<Zeroizing<String>> {
        Ok(case_entry(&self.local, case_id)?.codename)
    }

    /// Adds a case to this device from its codename, after checking with the server that the
    /// case exists and that the codename opens it. Returns the case id.
    pub async fn recover_case(&self, codename: &str) -> Result<CaseId> {
        let parsed = Codename::parse(codename)?;
        let case = parsed.derive()?;
        self.api()
            .messages(case.case_id, &case.case_secret, 0)
            .await
            .map_err(|e| match e {
                super::http::NetError::Refused { status: 404, .. } => {
                    Error::NotFound("a case for this codename".into())
                }
                other => Error::Network(other),
            })?;
        let (case_id, phrase) = (case.case_id, parsed.to_phrase());
        self.on_disk(move |local| local.add_case(case_id, "", &phrase, Utc::now()))
            .await?;
        self.conversation(case.case_id).await?;
        Ok(case.case_id)
    }

    /// Fetches what is new in a case, opens replies and checks each against the signing key the
    /// directory lists for its unit, stores the messages sealed on the device, and returns the
    /// whole conversation. A reply that fails its checks is left out and not stored.
    pub async fn conversation(&self, case_id: CaseId) -> Result<Vec<ConversationMessage>> {
        let directory = self.require_directory()?;
        let (entry, known, pending) = self
            .on_disk(move |local| {
                Ok((
                    case_entry(local, case_id)?,
                    parsed::<ConversationMessage>(&local.messages(case_id)?),
                    parsed::<PendingFollowUp>(&local.pending_follow_ups(case_id)?),
                ))
            })
            .await?;
        let keys = Codename::parse(&entry.codename)?.derive()?;
        // What to store, written in one go on the blocking pool once the answer is read:
        // (message id, position, JSON, sealed as it is stored; empty only moves a known message).
        let mut writes: Vec<(String, i64, Vec<u8>)> = Vec::new();
        let fresh = self
            .api()
            .messages(case_id, &keys.case_secret, entry.last_seq)
            .await?;
        let mut unit_id = entry.unit_id.clone();
        for wire in fresh {
            let Ok(envelope) = Envelope::from_bytes(&wire.envelope) else {
                continue;
            };
            let message = match envelope.kind {
                Kind::Reply => {
                    let Some(key) = directory.verifying_key_for_unit(&envelope.unit_id) else {
                        continue;
                    };
                    let message = match open_unit_message(&envelope, &keys, &key) {
                        Ok(UnitMessage::Reply(reply)) => ConversationMessage {
                            message_id: reply.message_id,
                            from_unit: true,
                            unit_id: reply.unit_id,
                            text: Some(reply.text),
                            sent_at: Some(reply.sent_at),
                            status: None,
                        },
                        Ok(UnitMessage::Notice(notice)) => ConversationMessage {
                            message_id: notice.message_id,
                            from_unit: true,
                            unit_id: notice.unit_id,
                            text: Some(notice.text),
                            sent_at: Some(notice.sent_at),
                            status: Some(notice.status),
                        },
                        Err(_) => continue,
                    };
                    unit_id = message.unit_id.clone();
                    message
                }
                Kind::FollowUp => {
                    if known.iter().any(|m| m.message_id == wire.message_id) {
                        // Written on this device: stored with its text when it was sent.
                        writes.push((wire.message_id.to_string(), wire.seq, Vec::new()));
                        continue;
                    }
                    if let Some(sent) = pending.iter().find(|p| p.message.message_id == wire.message_id) {
                        // Written on this device, and the server took it though the answer
                        // never came back: it is sent after all.
                        sent.message.clone()
                    } else {
                        ConversationMessage {
                            message_id: wire.message_id,
                            from_unit: false,
                            unit_id: envelope.unit_id.clone(),
                            text: None,
                            sent_at: None,
                            status: None,
                        }
                    }
                }
                Kind::Report => continue,
            };
            let json = serde_json::to_vec(&message)?;
            writes.push((message.message_id.to_string(), wire.seq, json));
        }
        let unit_changed = unit_id != entry.unit_id && !unit_id.is_empty();
        self.on_disk(move |local| {
            for (message_id, seq, json) in &writes {
                local.add_message(case_id, message_id, *seq, json)?;
            }
            if unit_changed {
                local.add_case(case_id, &unit_id, &entry.codename, entry.created)?;
            }
            Ok(parsed(&local.messages(case_id)?))
        })
        .await
    }

    /// Sends a follow-up in a case, sealed to the case's unit (from the directory), and keeps
    /// its text on this device. Needs a connection; on failure the error says why, so the app
    /// can keep the text and try again. Trying again with the same words sends the same sealed
    /// message (kept on the device meanwhile), so a try whose answer was lost on the way back
    /// does not make the unit read it twice.
    pub async fn send_follow_up(&self, case_id: CaseId, text: &str) -> Result<ConversationMessage> {
        let (entry, pending) = self
            .on_disk(move |local| {
                Ok((
                    case_entry(local, case_id)?,
                    parsed::<PendingFollowUp>(&local.pending_follow_ups(case_id)?),
                ))
            })
            .await?;
        if entry.unit_id.is_empty() {
            return Err(Error::NotFound("the case's unit: it has not answered yet".into()));
        }
        let directory = self.require_directory()?;
        let unit_key = directory
            .encryption_key_for_unit(&entry.unit_id)
            .ok_or_else(|| Error::NotFound(format!("unit {} in the directory", entry.unit_id)))?;
        let keys = Codename::parse(&entry.codename)?.derive()?;
        let again = pending
            .into_iter()
            .find(|p| p.message.text.as_deref() == Some(text) && p.message.unit_id == entry.unit_id);
        let PendingFollowUp {
            message: shown,
            envelope,
        } = match again {
            Some(pending) => pending,
            None => {
                let message = CaseMessage {
                    case_id,
                    message_id: MessageId::random()?,
                    unit_id: entry.unit_id.clone(),
                    text: text.to_owned(),
                    sent_at: Utc::now(),
                };
                let envelope = seal_follow_up_with_rng(&message, &unit_key, &mut OsRandom::new())?;
                let pending = PendingFollowUp {
                    message: ConversationMessage {
                        message_id: message.message_id,
                        from_unit: false,
                        unit_id: message.unit_id,
                        text: Some(message.text),
                        sent_at: Some(message.sent_at),
                        status: None,
                    },
                    envelope: envelope.to_bytes(),
                };
                // Kept before it is sent: whatever becomes of the answer, a retry finds it.
                let (message_id, json) = (
                    pending.message.message_id.to_string(),
                    serde_json::to_vec(&pending)?,
                );
                self.on_disk(move |local| {
                    local.add_pending_follow_up(case_id, &message_id, &json, Utc::now())
                })
                .await?;
                pending
            }
        };
        self.api()
            .post_message(case_id, &keys.case_secret, &envelope)
            .await?;
        // Stored with seq 0 (which settles the pending copy): the next sync places it by the
        // server's order without a new copy.
        let (message_id, json) = (shown.message_id.to_string(), serde_json::to_vec(&shown)?);
        self.on_disk(move |local| local.add_message(case_id, &message_id, 0, &json))
            .await?;
        Ok(shown)
    }
}

/// The case book's entry for a case on this device.
fn case_entry(local: &Local, case_id: CaseId) -> Result<CaseEntry> {
    local
        .cases()?
        .into_iter()
        .find(|c| c.case_id == case_id)
        .ok_or_else(|| Error::NotFound("that case on this device".into()))
}

/// The device's JSON records that parse; one that does not (written by another version) is left
/// out rather than failing the whole list.
pub(crate) fn parsed<T: serde::de::DeserializeOwned>(records: &[Zeroizing<Vec<u8>>]) -> Vec<T> {
    records
        .iter()
        .filter_map(|json| serde_json::from_slice(json).ok())
        .collect()
}
