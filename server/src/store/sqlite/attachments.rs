//! Attachments: the declared sizes, resumable appends of sealed bytes, and ranged reads. The
//! bytes are kept as chunk rows, one per accepted append, keyed by the offset they start at; an
//! append is accepted only at the current end, so the chunks of an attachment are contiguous.

use rusqlite::{params, Connection, OptionalExtension};

use super::codec::{array, to_i64, to_u64, OpError, OpResult};
use super::ids::IdMaps;
use crate::store::{AppendOutcome, AttachmentProgress, DeclaredAttachment};
use tipline_core::crypto::hashes_equal;
use tipline_core::report::ReportId;

/// Records the attachments declared for a report, none received yet (writer).
pub(super) fn declare(
    conn: &Connection,
    report_id: &[u8],
    declared: &[DeclaredAttachment],
    upload_hash: Option<&[u8; 32]>,
) -> OpResult<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO attachments (report_id, idx, sealed_size, received, complete, upload_hash)
         VALUES (?1, ?2, ?3, 0, ?4, ?5)",
    )?;
    for attachment in declared {
        insert.execute(params![
            report_id,
            attachment.index,
            to_i64(attachment.sealed_size)?,
            attachment.sealed_size == 0,
            upload_hash.map(|h| &h[..])
        ])?;
    }
    Ok(())
}

/// The upload state of every attachment of a report, by index.
pub(super) fn states(conn: &Connection, report_id: &[u8]) -> OpResult<Vec<AttachmentProgress>> {
    let rows = conn
        .prepare_cached(
            "SELECT idx, sealed_size, received FROM attachments WHERE report_id = ?1 ORDER BY idx",
        )?
        .query_map([report_id], |row| {
            Ok((
                row.get::<_, u16>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(index, sealed_size, received)| {
            Ok(AttachmentProgress {
                index,
                sealed_size: to_u64(sealed_size)?,
                received: to_u64(received)?,
            })
        })
        .collect()
}

/// One attachment's state and the hash of the secret that may upload it: the one the
/// transferring desk chose, else the report's case secret.
fn find(
    conn: &Connection,
    ids: &IdMaps,
    report_id: &ReportId,
    index: u16,
) -> OpResult<Option<(AttachmentProgress, [u8; 32])>> {
    let Some(seq) = ids.report(&report_id.0) else {
        return Ok(None);
    };
    let row: Option<(i64, i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT a.sealed_size, a.received, COALESCE(a.upload_hash, c.secret_hash)
             FROM reports r
             JOIN attachments a ON a.report_id = r.report_id
             JOIN cases c ON c.seq = r.case_seq
             WHERE r.seq = ?1 AND r.report_id = ?2 AND a.idx = ?3",
        )?
        .query_row(params![seq, &report_id.0[..], index], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    row.map(|(sealed_size, received, hash)| {
        Ok((
            AttachmentProgress {
                index,
                sealed_size: to_u64(sealed_size)?,
                received: to_u64(received)?,
            },
            array(hash)?,
        ))
    })
    .transpose()
}

/// Appends a chunk at the current end of an attachment (writer).
pub(super) fn append(
    conn: &Connection,
    ids: &IdMaps,
    report_id: &ReportId,
    index: u16,
    case_secret_hash: &[u8; 32],
    offset: u64,
    bytes: &[u8],
) -> OpResult<AppendOutcome> {
    let Some((state, hash)) = find(conn, ids, report_id, index)? else {
        return Ok(AppendOutcome::NotFound);
    };
    let report_id = &report_id.0[..];
    if !hashes_equal(&hash, case_secret_hash) {
        return Ok(AppendOutcome::NotFound);
    }
    if offset != state.received {
        return Ok(AppendOutcome::OffsetMismatch {
            offset: state.received,
        });
    }
    let length = u64::try_from(bytes.len()).map_err(|_| OpError::Data("chunk too large"))?;
    let end = match state.received.checked_add(length) {
        Some(end) if end <= state.sealed_size => end,
        _ => return Ok(AppendOutcome::TooLong),
    };
    if bytes.is_empty() {
        return Ok(AppendOutcome::Appended { offset: end });
    }
    conn.prepare_cached(
        "INSERT INTO attachment_chunks (report_id, idx, chunk_offset, bytes) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![report_id, index, to_i64(state.received)?, bytes])?;
    conn.prepare_cached(
        "UPDATE attachments SET received = ?3, complete = ?4 WHERE report_id = ?1 AND idx = ?2",
    )?
    .execute(params![report_id, index, to_i64(end)?, end == state.sealed_size])?;
    Ok(AppendOutcome::Appended { offset: end })
}

/// An attachment's state if the hash matches its case, or without a check for `None` (reader).
pub(super) fn state(
    conn: &Connection,
    ids: &IdMaps,
    report_id: &ReportId,
    index: u16,
    case_secret_hash: Option<&[u8; 32]>,
) -> OpResult<Option<AttachmentProgress>> {
    let Some((state, hash)) = find(conn, ids, report_id, index)? else {
        return Ok(None);
    };
    match case_secret_hash {
        Some(given) if !hashes_equal(&hash, given) => Ok(None),
        _ => Ok(Some(state)),
    }
}

/// Reads `[offset, offset + len)` of an attachment of a report of `unit_id`, cut at what has
/// been received (so empty at or past the end); `None` if there is no such attachment for that
/// unit (reader).
pub(super) fn read(
    conn: &Connection,
    ids: &IdMaps,
    unit_id: &str,
    report_id: &ReportId,
    index: u16,
    offset: u64,
    len: u64,
) -> OpResult<Option<Vec<u8>>> {
    let Some(seq) = ids.report(&report_id.0) else {
        return Ok(None);
    };
    let report_id = &report_id.0[..];
    let received: Option<i64> = conn
        .prepare_cached(
            "SELECT a.received FROM reports r JOIN attachments a ON a.report_id = r.report_id
             WHERE r.seq = ?1 AND r.report_id = ?2 AND r.unit_id = ?3 AND a.idx = ?4",
        )?
        .query_row(params![seq, report_id, unit_id, index], |row| row.get(0))
        .optional()?;
    let Some(received) = received else {
        return Ok(None);
    };
    let received = to_u64(received)?;
    let end = offset.saturating_add(len).min(received);
    if offset >= end {
        return Ok(Some(Vec::new()));
    }
    let wanted = usize::try_from(end - offset).map_err(|_| OpError::Data("read too large"))?;
    let mut out = Vec::with_capacity(wanted);
    // From the chunk that holds `offset` (the last one starting at or before it) up to `end`.
    let mut statement = conn.prepare_cached(
        "SELECT chunk_offset, bytes FROM attachment_chunks
         WHERE report_id = ?1 AND idx = ?2 AND chunk_offset < ?4
           AND chunk_offset >= COALESCE((SELECT MAX(chunk_offset) FROM attachment_chunks
                                         WHERE report_id = ?1 AND idx = ?2 AND chunk_offset <= ?3), 0)
         ORDER BY chunk_offset",
    )?;
    let mut rows = statement.query(params![report_id, index, to_i64(offset)?, to_i64(end)?])?;
    while let Some(row) = rows.next()? {
        let start = to_u64(row.get::<_, i64>(0)?)?;
        let bytes = row
            .get_ref(1)?
            .as_blob()
            .map_err(|_| OpError::Data("stored chunk is not a blob"))?;
        // Where this chunk's wanted part begins and ends, relative to the chunk.
        let position = offset + out.len() as u64;
        if start > position {
            return Err(OpError::Data("attachment chunks are not contiguous"));
        }
        let from =
            usize::try_from(position - start).map_err(|_| OpError::Data("chunk offset out of range"))?;
        let take = (bytes.len().saturating_sub(from)).min(wanted - out.len());
        if let Some(part) = bytes.get(from..from + take) {
            out.extend_from_slice(part);
        }
        if out.len() == wanted {
            break;
        }
    }
    if out.len() != wanted {
        return Err(OpError::Data("attachment chunks are missing"));
    }
    Ok(Some(out))
}

/// Uploads that never completed, of reports received before `received_before`: report id and
/// index (reader).
pub(super) fn stale(conn: &Connection, ids: &IdMaps, received_before: i64) -> OpResult<Vec<([u8; 16], u16)>> {
    let incomplete = conn
        .prepare_cached("SELECT report_id, idx FROM attachments WHERE complete = 0")?
        .query_map([], |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, u16>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut received =
        conn.prepare_cached("SELECT received_at FROM reports WHERE seq = ?1 AND report_id = ?2")?;
    let mut stale = Vec::new();
    for (report_id, index) in incomplete {
        let id: [u8; 16] = array(&report_id)?;
        let Some(seq) = ids.report(&id) else { continue };
        let at: Option<i64> = received
            .query_row(params![seq, &report_id], |row| row.get(0))
            .optional()?;
        if at.is_some_and(|at| at < received_before) {
            stale.push((id, index));
        }
    }
    Ok(stale)
}

/// Deletes an upload that is still incomplete, with the bytes received (writer); whether it went.
pub(super) fn drop_incomplete(conn: &Connection, report_id: &[u8; 16], index: u16) -> OpResult<bool> {
    // The chunks go with it (ON DELETE CASCADE).
    Ok(conn
        .prepare_cached("DELETE FROM attachments WHERE report_id = ?1 AND idx = ?2 AND complete = 0")?
        .execute(params![&report_id[..], index])?
        > 0)
}
