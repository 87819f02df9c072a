//! Cases and their conversation: the case record and the ordered messages of a case.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::codec::{array, direction, millis, time, OpError, OpResult};
use super::ids::IdMaps;
use crate::store::{CaseRecord, MessageDirection, SealedMessage};
use tipline_core::api::bounds::PageBudget;
use tipline_core::report::{CaseId, MessageId};

/// The case, if it exists (reader).
pub(super) fn case(conn: &Connection, ids: &IdMaps, case_id: &CaseId) -> OpResult<Option<CaseRecord>> {
    let Some(seq) = ids.case(&case_id.0) else {
        return Ok(None);
    };
    let row: Option<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT unit_id, secret_hash FROM cases WHERE seq = ?1 AND case_id = ?2")?
        .query_row(params![seq, &case_id.0[..]], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(unit_id, hash)| {
        Ok(CaseRecord {
            case_id: *case_id,
            unit_id,
            case_secret_hash: array(hash)?,
        })
    })
    .transpose()
}

/// The columns `message` reads, in its order.
const MESSAGE_COLUMNS: &str = "seq, message_id, direction, created_at, envelope";

/// Raw columns of a message row.
type MessageRow = (i64, Vec<u8>, String, i64, Vec<u8>);

fn message_row(row: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn message((seq, message_id, direction_text, created_at, envelope): MessageRow) -> OpResult<SealedMessage> {
    Ok(SealedMessage {
        seq,
        message_id: MessageId(array(message_id)?),
        direction: direction(&direction_text)?,
        envelope,
        created_at: time(created_at)?,
    })
}

/// Appends a message to a case, or returns the one stored under the same id (writer).
///
/// The handler checks the case exists before; an unknown case is an error. A message id already
/// used by another message (another case's, which only someone replaying that case's traffic
/// could send, or another envelope) is `MessageIdTaken`, never an answer that would show it.
pub(super) fn add_message(
    conn: &Connection,
    ids: &IdMaps,
    case_id: &CaseId,
    message_id: &MessageId,
    direction: MessageDirection,
    envelope: &[u8],
    now: DateTime<Utc>,
) -> OpResult<SealedMessage> {
    let case_exists = case(conn, ids, case_id)?.is_some();
    let case_id = &case_id.0[..];
    let message_id = &message_id.0[..];
    let existing: Option<(Vec<u8>, MessageRow)> = conn
        .prepare_cached(&format!(
            "SELECT case_id, {MESSAGE_COLUMNS} FROM messages WHERE message_id = ?1"
        ))?
        .query_row([message_id], |row| {
            Ok((
                row.get(0)?,
                (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?),
            ))
        })
        .optional()?;
    if let Some((stored_case, row)) = existing {
        let stored = message(row)?;
        if stored_case != case_id || stored.envelope != envelope || stored.direction != direction {
            return Err(OpError::MessageIdTaken);
        }
        return Ok(stored);
    }
    if !case_exists {
        return Err(OpError::Data("message for an unknown case"));
    }
    let row = conn
        .prepare_cached(&format!(
            "INSERT INTO messages (case_id, message_id, direction, created_at, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {MESSAGE_COLUMNS}"
        ))?
        .query_row(
            params![case_id, message_id, direction.as_str(), millis(now), envelope],
            message_row,
        )?;
    message(row)
}

/// Messages of a case after `after`, in order, at most `limit` (reader).
pub(super) fn messages(
    conn: &Connection,
    case_id: &CaseId,
    after: i64,
    limit: u32,
) -> OpResult<Vec<SealedMessage>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE case_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?
    .query_map(params![&case_id.0[..], after, limit], message_row)?
    .map(|row| message(row?))
    // The page stops short of `limit` once its envelopes fill the page budget.
    .scan(PageBudget::new(), |page, stored| match stored {
        Ok(stored) => page.take(stored.envelope.len()).then_some(Ok(stored)),
        Err(e) => Some(Err(e)),
    })
    .collect()
}
