//! Attachments: resumable appends of sealed bytes and ranged reads. As in the SQLite store the
//! bytes are chunk rows, one per accepted append, keyed by the offset they start at. An append
//! locks the attachment's row first, so that pieces reaching two nodes at once are taken one
//! after the other, each only at the end the other left.

use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_postgres::{PgConnection, PgPool};

use super::{array, db_error, to_i64, to_u64};
use crate::store::{AppendOutcome, AttachmentProgress, StoreError, StoreResult};
use tipline_core::crypto::hashes_equal;
use tipline_core::report::ReportId;

/// One attachment's state and the hash of the secret that may upload it (the transferring
/// desk's, else the report's case secret); with `lock`, the attachment's row stays locked until
/// the transaction ends.
async fn find(
    conn: &mut PgConnection,
    report_id: &ReportId,
    index: u16,
    lock: bool,
) -> StoreResult<Option<(AttachmentProgress, [u8; 32])>> {
    let sql = if lock {
        "SELECT a.sealed_size, a.received, COALESCE(a.upload_hash, c.secret_hash)
         FROM attachments a JOIN reports r ON r.report_id = a.report_id JOIN cases c ON c.case_id = r.case_id
         WHERE a.report_id = $1 AND a.idx = $2 FOR UPDATE OF a"
    } else {
        "SELECT a.sealed_size, a.received, COALESCE(a.upload_hash, c.secret_hash)
         FROM attachments a JOIN reports r ON r.report_id = a.report_id JOIN cases c ON c.case_id = r.case_id
         WHERE a.report_id = $1 AND a.idx = $2"
    };
    let row: Option<(i64, i64, Vec<u8>)> = query_as(sql)
        .bind(&report_id.0[..])
        .bind(i32::from(index))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.map(|(sealed_size, received, hash)| {
        Ok((
            AttachmentProgress {
                index,
                sealed_size: to_u64(sealed_size)?,
                received: to_u64(received)?,
            },
            array(&hash)?,
        ))
    })
    .transpose()
}

/// Appends a chunk at the current end of an attachment.
pub(super) async fn append(
    pool: &PgPool,
    report_id: &ReportId,
    index: u16,
    case_secret_hash: &[u8; 32],
    offset: u64,
    bytes: &[u8],
) -> StoreResult<AppendOutcome> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let Some((state, hash)) = find(&mut tx, report_id, index, true).await? else {
        return Ok(AppendOutcome::NotFound);
    };
    if !hashes_equal(&hash, case_secret_hash) {
        return Ok(AppendOutcome::NotFound);
    }
    if offset != state.received {
        return Ok(AppendOutcome::OffsetMismatch {
            offset: state.received,
        });
    }
    let length =
        u64::try_from(bytes.len()).map_err(|_| StoreError::Database("chunk too large".to_owned()))?;
    let end = match state.received.checked_add(length) {
        Some(end) if end <= state.sealed_size => end,
        _ => return Ok(AppendOutcome::TooLong),
    };
    if bytes.is_empty() {
        return Ok(AppendOutcome::Appended { offset: end });
    }
    query("INSERT INTO attachment_chunks (report_id, idx, chunk_offset, bytes) VALUES ($1, $2, $3, $4)")
        .bind(&report_id.0[..])
        .bind(i32::from(index))
        .bind(to_i64(state.received)?)
        .bind(bytes)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    query("UPDATE attachments SET received = $3, complete = $4 WHERE report_id = $1 AND idx = $2")
        .bind(&report_id.0[..])
        .bind(i32::from(index))
        .bind(to_i64(end)?)
        .bind(end == state.sealed_size)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(AppendOutcome::Appended { offset: end })
}

/// An attachment's state if the hash matches its case, or without a check for `None`.
pub(super) async fn state(
    pool: &PgPool,
    report_id: &ReportId,
    index: u16,
    case_secret_hash: Option<&[u8; 32]>,
) -> StoreResult<Option<AttachmentProgress>> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    let Some((state, hash)) = find(&mut conn, report_id, index, false).await? else {
        return Ok(None);
    };
    match case_secret_hash {
        Some(given) if !hashes_equal(&hash, given) => Ok(None),
        _ => Ok(Some(state)),
    }
}

/// Reads `[offset, offset + len)` of an attachment of a report of `unit_id`, cut at what has
/// been received; `None` if there is no such attachment for that unit.
pub(super) async fn read(
    pool: &PgPool,
    unit_id: &str,
    report_id: &ReportId,
    index: u16,
    offset: u64,
    len: u64,
) -> StoreResult<Option<Vec<u8>>> {
    // One snapshot for the size and the chunks, so a transfer or expiry between the two reads
    // cannot show a size whose chunks are gone.
    let mut tx = pool.begin().await.map_err(db_error)?;
    query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let received: Option<i64> = sqlx_core::query_scalar::query_scalar(
        "SELECT a.received FROM reports r JOIN attachments a ON a.report_id = r.report_id
         WHERE r.report_id = $1 AND r.unit_id = $2 AND a.idx = $3",
    )
    .bind(&report_id.0[..])
    .bind(unit_id)
    .bind(i32::from(index))
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    let Some(received) = received else {
        return Ok(None);
    };
    let end = offset.saturating_add(len).min(to_u64(received)?);
    if offset >= end {
        return Ok(Some(Vec::new()));
    }
    let wanted =
        usize::try_from(end - offset).map_err(|_| StoreError::Database("read too large".to_owned()))?;
    // From the chunk that holds `offset` (the last one starting at or before it) up to `end`.
    let chunks: Vec<(i64, Vec<u8>)> = query_as(
        "SELECT chunk_offset, bytes FROM attachment_chunks
         WHERE report_id = $1 AND idx = $2 AND chunk_offset < $4
           AND chunk_offset >= COALESCE((SELECT MAX(chunk_offset) FROM attachment_chunks
                                         WHERE report_id = $1 AND idx = $2 AND chunk_offset <= $3), 0)
         ORDER BY chunk_offset",
    )
    .bind(&report_id.0[..])
    .bind(i32::from(index))
    .bind(to_i64(offset)?)
    .bind(to_i64(end)?)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    let mut out = Vec::with_capacity(wanted);
    for (start, bytes) in chunks {
        let start = to_u64(start)?;
        let position = offset + out.len() as u64;
        if start > position {
            return Err(StoreError::Database(
                "attachment chunks are not contiguous".to_owned(),
            ));
        }
        let from = usize::try_from(position - start)
            .map_err(|_| StoreError::Database("chunk offset out of range".to_owned()))?;
        let take = bytes.len().saturating_sub(from).min(wanted - out.len());
        if let Some(part) = bytes.get(from..from + take) {
            out.extend_from_slice(part);
        }
        if out.len() == wanted {
            break;
        }
    }
    if out.len() != wanted {
        return Err(StoreError::Database("attachment chunks are missing".to_owned()));
    }
    Ok(Some(out))
}
