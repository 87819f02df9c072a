//! Cases and their conversation, and what the server publishes to everyone: the signed
//! directory and signed alerts (matched to a region by [`crate::store::alert_region_keys`], the
//! rule the SQLite store applies too).

use chrono::{DateTime, Utc};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::PgPool;

use super::{array, db_error, millis, time, to_i64, to_u64};
use crate::store::{CaseRecord, MessageDirection, SealedMessage, StoreError, StoreResult, StoredAlert};
use tipline_core::api::bounds::{PageBudget, PAGE_ENVELOPE_BYTES};
use tipline_core::report::{CaseId, MessageId};

/// The case, if it exists.
pub(super) async fn case(pool: &PgPool, case_id: &CaseId) -> StoreResult<Option<CaseRecord>> {
    let row: Option<(String, Vec<u8>)> =
        query_as("SELECT unit_id, secret_hash FROM cases WHERE case_id = $1")
            .bind(&case_id.0[..])
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    row.map(|(unit_id, hash)| {
        Ok(CaseRecord {
            case_id: *case_id,
            unit_id,
            case_secret_hash: array(&hash)?,
        })
    })
    .transpose()
}

/// A message row: seq, message id, direction, created at, envelope.
type MessageRow = (i64, Vec<u8>, String, i64, Vec<u8>);

/// A message row with its case id first.
type CaseMessageRow = (Vec<u8>, i64, Vec<u8>, String, i64, Vec<u8>);

/// An alert row: alert id, unit id, regions (JSON), expires at, signed alert.
type AlertRow = (Vec<u8>, String, String, i64, Vec<u8>);

fn direction(text: &str) -> StoreResult<MessageDirection> {
    match text {
        "to_unit" => Ok(MessageDirection::ToUnit),
        "to_reporter" => Ok(MessageDirection::ToReporter),
        _ => Err(StoreError::Database("stored message direction".to_owned())),
    }
}

fn message(
    (seq, message_id, direction_text, created_at, envelope): MessageRow,
) -> StoreResult<SealedMessage> {
    Ok(SealedMessage {
        seq,
        message_id: MessageId(array(&message_id)?),
        direction: direction(&direction_text)?,
        envelope,
        created_at: time(created_at)?,
    })
}

/// The stored message under `message_id` if it is this one (same case, envelope, direction);
/// [`StoreError::MessageIdTaken`] if the id holds another.
fn same_message(
    stored: (Vec<u8>, MessageRow),
    case_id: &[u8],
    direction: MessageDirection,
    envelope: &[u8],
) -> StoreResult<SealedMessage> {
    let (stored_case, row) = stored;
    let stored = message(row)?;
    if stored_case != case_id || stored.envelope != envelope || stored.direction != direction {
        return Err(StoreError::MessageIdTaken);
    }
    Ok(stored)
}

/// Appends a message to a case, or returns the one stored under the same id. The case's row is
/// locked first, so the messages of one case get their sequence numbers, and become visible,
/// one after the other.
pub(super) async fn add_message(
    pool: &PgPool,
    case_id: &CaseId,
    message_id: &MessageId,
    direction: MessageDirection,
    envelope: &[u8],
    now: DateTime<Utc>,
    origin: i64,
) -> StoreResult<SealedMessage> {
    let case_id = &case_id.0[..];
    let message_id = &message_id.0[..];
    let select = "SELECT case_id, seq, message_id, direction, created_at, envelope FROM messages WHERE message_id = $1";
    let mut tx = pool.begin().await.map_err(db_error)?;
    let case_unit: Option<String> = query_scalar("SELECT unit_id FROM cases WHERE case_id = $1 FOR UPDATE")
        .bind(case_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    let existing: Option<CaseMessageRow> = query_as(select)
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    if let Some((stored_case, seq, id, dir, at, env)) = existing {
        return same_message(
            (stored_case, (seq, id, dir, at, env)),
            case_id,
            direction,
            envelope,
        );
    }
    let Some(case_unit) = case_unit else {
        return Err(StoreError::Database("message for an unknown case".to_owned()));
    };
    // A reporter's follow-up wakes the case's unit's streams on every node: its push event is
    // written in the same transaction (see `push.rs`).
    let inserted: Option<MessageRow> = query_as(
        "WITH m AS (
             INSERT INTO messages (case_id, message_id, direction, created_at, envelope) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (message_id) DO NOTHING
             RETURNING seq, message_id, direction, created_at, envelope
         ), event AS (
             INSERT INTO push_events (unit_id, case_id, message_seq, created_at, origin)
             SELECT $6, $1, seq, $4, $7 FROM m WHERE $3 = 'to_unit'
         )
         SELECT seq, message_id, direction, created_at, envelope FROM m",
    )
    .bind(case_id)
    .bind(message_id)
    .bind(direction.as_str())
    .bind(millis(now))
    .bind(envelope)
    .bind(&case_unit)
    .bind(origin)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    match inserted {
        Some(row) => {
            tx.commit().await.map_err(db_error)?;
            message(row)
        }
        // The id was taken at the same moment in another case (whose lock this one does not
        // hold): the stored message decides.
        None => {
            let (stored_case, seq, id, dir, at, env): CaseMessageRow = query_as(select)
                .bind(message_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            same_message(
                (stored_case, (seq, id, dir, at, env)),
                case_id,
                direction,
                envelope,
            )
        }
    }
}

/// Messages of a case after `after`, in order, at most `limit`, cut at the page budget: cut by
/// PostgreSQL as `PageBudget` cuts it (the first always, each next one while the running total
/// of envelope bytes fits), so that a page of large envelopes is never read whole into the
/// node's memory to be cut there; the cut is checked again here.
pub(super) async fn messages(
    pool: &PgPool,
    case_id: &CaseId,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<SealedMessage>> {
    let budget = i64::try_from(PAGE_ENVELOPE_BYTES)
        .map_err(|_| StoreError::Database("page budget out of range".to_owned()))?;
    let rows: Vec<MessageRow> = query_as(
        "WITH candidates AS (
             SELECT seq, message_id, direction, created_at, envelope,
                    octet_length(envelope)::BIGINT AS size
             FROM messages WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
         )
         SELECT seq, message_id, direction, created_at, envelope FROM (
             SELECT seq, message_id, direction, created_at, envelope,
                    row_number() OVER w AS n, sum(size) OVER w AS total
             FROM candidates
             WINDOW w AS (ORDER BY seq ROWS UNBOUNDED PRECEDING)
         ) running
         WHERE n = 1 OR total <= $4
         ORDER BY seq",
    )
    .bind(&case_id.0[..])
    .bind(after)
    .bind(i64::from(limit))
    .bind(budget)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let mut page = PageBudget::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let stored = message(row)?;
        if !page.take(stored.envelope.len()) {
            break;
        }
        out.push(stored);
    }
    Ok(out)
}

/// The published directory of `format` and its version.
pub(super) async fn directory(pool: &PgPool, format: u32) -> StoreResult<Option<(u64, Vec<u8>)>> {
    let format = i32::try_from(format).map_err(|_| StoreError::Database("format out of range".to_owned()))?;
    let row: Option<(i64, Vec<u8>)> = query_as("SELECT version, signed FROM directories WHERE format = $1")
        .bind(format)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    row.map(|(version, signed)| Ok((to_u64(version)?, signed)))
        .transpose()
}

/// Replaces the directory of `format` if `version` is higher than the stored one of that
/// format; whether it did.
pub(super) async fn publish_directory(
    pool: &PgPool,
    format: u32,
    version: u64,
    signed: &[u8],
) -> StoreResult<bool> {
    let format = i32::try_from(format).map_err(|_| StoreError::Database("format out of range".to_owned()))?;
    let changed = query(
        "INSERT INTO directories (format, version, signed) VALUES ($1, $2, $3)
         ON CONFLICT (format) DO UPDATE SET version = excluded.version, signed = excluded.signed
         WHERE excluded.version > directories.version",
    )
    .bind(format)
    .bind(to_i64(version)?)
    .bind(signed)
    .execute(pool)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(changed > 0)
}

/// Stores an alert unless one with its id is stored already.
pub(super) async fn add_alert(pool: &PgPool, alert: &StoredAlert) -> StoreResult<()> {
    let regions = serde_json::to_string(&alert.regions)
        .map_err(|_| StoreError::Database("alert regions".to_owned()))?;
    let keys: Vec<String> = alert.regions.iter().map(|r| r.to_ascii_lowercase()).collect();
    let mut tx = pool.begin().await.map_err(db_error)?;
    let inserted = query(
        "INSERT INTO alerts (alert_id, unit_id, regions, expires_at, signed) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (alert_id) DO NOTHING",
    )
    .bind(&alert.alert_id.0[..])
    .bind(&alert.unit_id)
    .bind(&regions)
    .bind(millis(alert.expires_at))
    .bind(&alert.signed)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    query(
        "INSERT INTO alert_regions (region, alert_id) SELECT DISTINCT r, $2 FROM UNNEST($1::TEXT[]) AS r
         ON CONFLICT DO NOTHING",
    )
    .bind(&keys)
    .bind(&alert.alert_id.0[..])
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

/// Unexpired alerts for `region`, newest stored first.
pub(super) async fn alerts(
    pool: &PgPool,
    region: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<StoredAlert>> {
    let (region, country) = crate::store::alert_region_keys(region);
    let rows: Vec<AlertRow> = query_as(
        "SELECT alert_id, unit_id, regions, expires_at, signed FROM alerts
         WHERE expires_at > $3
           AND alert_id IN (SELECT alert_id FROM alert_regions WHERE region IN ($1, $2))
         ORDER BY seq DESC LIMIT $4",
    )
    .bind(&region)
    .bind(&country)
    .bind(millis(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.into_iter()
        .map(|(alert_id, unit_id, regions, expires_at, signed)| {
            Ok(StoredAlert {
                alert_id: MessageId(array(&alert_id)?),
                unit_id,
                regions: serde_json::from_str(&regions)
                    .map_err(|_| StoreError::Database("stored alert regions".to_owned()))?,
                signed,
                expires_at: time(expires_at)?,
            })
        })
        .collect()
}
