//! Reports: intake, leases, acknowledgement, transfer, retention and totals. Functions taking a
//! connection run either on the writer thread (inside a job's savepoint) or on a read
//! connection, as their callers in `sqlite.rs` decide.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::attachments;
use super::codec::{array, millis, time, OpResult};
use super::ids::{IdMaps, Seq};
use crate::store::{DeclaredAttachment, Delivery, NewReport, StoreStats, SubmitOutcome, TransferOutcome};
use tipline_core::api::bounds::PageBudget;
use tipline_core::crypto::hashes_equal;
use tipline_core::report::{CaseId, ReportId};

/// The row of a report, if its id is known and the row holds that id.
pub(super) fn find(conn: &Connection, ids: &IdMaps, report_id: &ReportId) -> OpResult<Option<Seq>> {
    let Some(seq) = ids.report(&report_id.0) else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached("SELECT seq FROM reports WHERE seq = ?1 AND report_id = ?2")?
        .query_row(params![seq, &report_id.0[..]], |row| row.get(0))
        .optional()?)
}

/// Stores a report and, if new, its case (writer).
pub(super) fn submit(conn: &Connection, ids: &IdMaps, report: &NewReport) -> OpResult<SubmitOutcome> {
    let report_id = &report.report_id.0[..];
    let existing: Option<(Vec<u8>, Vec<u8>)> = match ids.report(&report.report_id.0) {
        Some(seq) => conn
            .prepare_cached("SELECT envelope_sha256, receipt FROM reports WHERE seq = ?1 AND report_id = ?2")?
            .query_row(params![seq, report_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?,
        None => None,
    };
    if let Some((sha256, receipt)) = existing {
        return Ok(if sha256 == report.envelope_sha256 {
            SubmitOutcome::Duplicate { receipt }
        } else {
            SubmitOutcome::Conflict
        });
    }

    let case_id = &report.case_id.0[..];
    let case: Option<(Seq, Vec<u8>)> = match ids.case(&report.case_id.0) {
        Some(seq) => conn
            .prepare_cached("SELECT secret_hash FROM cases WHERE seq = ?1 AND case_id = ?2")?
            .query_row(params![seq, case_id], |row| Ok((seq, row.get(0)?)))
            .optional()?,
        None => None,
    };
    let case_seq = match case {
        // The same reporter filing another report in the case: the case stays with the unit
        // that handles it now.
        Some((seq, hash)) if hashes_equal(&array(&hash)?, &report.case_secret_hash) => seq,
        Some(_) => return Ok(SubmitOutcome::CaseConflict),
        None => {
            let seq: Seq = conn
                .prepare_cached(
                    "INSERT INTO cases (case_id, unit_id, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                     RETURNING seq",
                )?
                .query_row(
                    params![
                        case_id,
                        report.unit_id,
                        &report.case_secret_hash[..],
                        millis(report.received_at)
                    ],
                    |row| row.get(0),
                )?;
            ids.add_case(report.case_id.0, seq);
            seq
        }
    };

    let seq: Seq = conn
        .prepare_cached(
            "INSERT INTO reports (report_id, unit_id, case_seq, case_id, state, received_at, lease_until,
                                  delivery_count, acked_at, envelope_sha256, receipt)
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, NULL, 0, NULL, ?6, ?7)
             RETURNING seq",
        )?
        .query_row(
            params![
                report_id,
                report.unit_id,
                case_seq,
                case_id,
                millis(report.received_at),
                &report.envelope_sha256[..],
                report.receipt,
            ],
            |row| row.get(0),
        )?;
    conn.prepare_cached("INSERT INTO report_envelopes (seq, envelope) VALUES (?1, ?2)")?
        .execute(params![seq, report.envelope])?;
    ids.add_report(report.report_id.0, seq);
    attachments::declare(conn, report_id, &report.attachments, None)?;
    Ok(SubmitOutcome::Created)
}

/// Leases the unit's oldest deliverable reports until `until`, as many as `limit` and the page
/// budget allow (writer, so that two desks never lease the same report at once).
pub(super) fn lease(
    conn: &Connection,
    unit_id: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> OpResult<Vec<Delivery>> {
    let candidates = conn
        .prepare_cached(
            "SELECT r.seq, length(e.envelope) FROM reports r JOIN report_envelopes e ON e.seq = r.seq
             WHERE r.unit_id = ?1 AND r.acked_at IS NULL AND (r.state = 'queued' OR r.lease_until <= ?2)
             ORDER BY r.received_at, r.seq LIMIT ?3",
        )?
        .query_map(params![unit_id, millis(now), limit], |row| {
            Ok((row.get::<_, Seq>(0)?, row.get::<_, usize>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // Only what fits the page is leased; the rest stays queued for the next request.
    let mut page = PageBudget::new();
    let rows: Vec<Seq> = candidates
        .into_iter()
        .take_while(|(_, size)| page.take(*size))
        .map(|(seq, _)| seq)
        .collect();

    let mut deliveries = Vec::with_capacity(rows.len());
    for seq in rows {
        let (id, case_id, received_at, delivery_count, lease_until) = conn
            .prepare_cached(
                "UPDATE reports SET state = 'leased', lease_until = ?2, delivery_count = delivery_count + 1
                 WHERE seq = ?1
                 RETURNING report_id, case_id, received_at, delivery_count, lease_until",
            )?
            .query_row(params![seq, millis(until)], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?;
        let envelope: Vec<u8> = conn
            .prepare_cached("SELECT envelope FROM report_envelopes WHERE seq = ?1")?
            .query_row([seq], |row| row.get(0))?;
        deliveries.push(Delivery {
            attachments: attachments::states(conn, &id)?,
            report_id: ReportId(array(id)?),
            envelope,
            case_id: CaseId(array(case_id)?),
            received_at: time(received_at)?,
            delivery_count,
            lease_until: time(lease_until)?,
        });
    }
    Ok(deliveries)
}

/// The earliest lease expiry among the unit's leased, unacknowledged reports (reader).
pub(super) fn next_lease_expiry(conn: &Connection, unit_id: &str) -> OpResult<Option<DateTime<Utc>>> {
    let earliest: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(lease_until) FROM reports
             WHERE unit_id = ?1 AND acked_at IS NULL AND state = 'leased'",
        )?
        .query_row([unit_id], |row| row.get(0))?;
    earliest.map(time).transpose()
}

/// Acknowledges a report of the unit; whether it is the unit's (writer).
pub(super) fn ack(
    conn: &Connection,
    ids: &IdMaps,
    unit_id: &str,
    report_id: &ReportId,
    now: DateTime<Utc>,
) -> OpResult<bool> {
    let Some(seq) = find(conn, ids, report_id)? else {
        return Ok(false);
    };
    let changed = conn
        .prepare_cached(
            "UPDATE reports SET state = 'acked', acked_at = ?3, lease_until = NULL
             WHERE seq = ?1 AND unit_id = ?2 AND acked_at IS NULL",
        )?
        .execute(params![seq, unit_id, millis(now)])?;
    if changed > 0 {
        return Ok(true);
    }
    // Acknowledged before, or not the unit's.
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM reports WHERE seq = ?1 AND unit_id = ?2)")?
        .query_row(params![seq, unit_id], |row| row.get(0))?)
}

/// Moves a report and its case to another unit, queued afresh with a new envelope and new
/// declared attachments (writer). The stored envelope digest and receipt stay those of the
/// original submission: they are the reporter's idempotency key, so a late retry of the
/// original submission is still a `Duplicate`.
#[allow(clippy::too_many_arguments)] // the trait method's arguments, plus the connection and maps
pub(super) fn transfer(
    conn: &Connection,
    ids: &IdMaps,
    from_unit: &str,
    report_id: &ReportId,
    to_unit: &str,
    envelope: &[u8],
    declared: &[DeclaredAttachment],
    upload_hash: Option<&[u8; 32]>,
) -> OpResult<TransferOutcome> {
    let Some(seq) = find(conn, ids, report_id)? else {
        return Ok(TransferOutcome::NotFound);
    };
    let case_seq: Option<Seq> = conn
        .prepare_cached("SELECT case_seq FROM reports WHERE seq = ?1 AND unit_id = ?2")?
        .query_row(params![seq, from_unit], |row| row.get(0))
        .optional()?;
    let Some(case_seq) = case_seq else {
        return Ok(TransferOutcome::NotFound);
    };
    conn.prepare_cached(
        "UPDATE reports SET unit_id = ?2, state = 'queued', lease_until = NULL,
                            delivery_count = 0, acked_at = NULL
         WHERE seq = ?1",
    )?
    .execute(params![seq, to_unit])?;
    conn.prepare_cached("UPDATE report_envelopes SET envelope = ?2 WHERE seq = ?1")?
        .execute(params![seq, envelope])?;
    // The old attachments' chunks go with them (ON DELETE CASCADE).
    let report_id = &report_id.0[..];
    conn.prepare_cached("DELETE FROM attachments WHERE report_id = ?1")?
        .execute([report_id])?;
    attachments::declare(conn, report_id, declared, upload_hash)?;
    conn.prepare_cached("UPDATE cases SET unit_id = ?2 WHERE seq = ?1")?
        .execute(params![case_seq, to_unit])?;
    Ok(TransferOutcome::Moved)
}

/// Deletes up to `limit` reports acknowledged before `acked_before` with their attachments, the
/// cases left without reports with their messages, and expired alerts; how many reports went
/// (writer). Bounded so that one purge does not hold the writer long.
pub(super) fn purge_some(
    conn: &Connection,
    ids: &IdMaps,
    acked_before: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: u32,
) -> OpResult<u64> {
    let doomed = conn
        .prepare_cached(
            "SELECT seq, report_id, case_seq, case_id FROM reports
             WHERE acked_at IS NOT NULL AND acked_at < ?1
             ORDER BY acked_at LIMIT ?2",
        )?
        .query_map(params![millis(acked_before), limit], |row| {
            Ok((
                row.get::<_, Seq>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Seq>(2)?,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = delete(conn, ids, &doomed)?;
    conn.prepare_cached("DELETE FROM alerts WHERE expires_at <= ?1")?
        .execute([millis(now)])?;
    Ok(deleted)
}

/// A report row to delete: its `seq`, id, case `seq` and case id.
type Doomed = (Seq, Vec<u8>, Seq, Vec<u8>);

/// Deletes up to `limit` reports never acknowledged and received before `received_before`,
/// with their attachments, and the cases left without reports with their messages; how many
/// reports went (writer).
pub(super) fn expire_some(
    conn: &Connection,
    ids: &IdMaps,
    received_before: DateTime<Utc>,
    limit: u32,
) -> OpResult<u64> {
    let doomed = conn
        .prepare_cached(
            "SELECT seq, report_id, case_seq, case_id FROM reports
             WHERE acked_at IS NULL AND received_at < ?1
             ORDER BY received_at LIMIT ?2",
        )?
        .query_map(params![millis(received_before), limit], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<Vec<Doomed>, _>>()?;
    delete(conn, ids, &doomed)
}

/// Deletes reports with their attachments, and their cases if no report is left in them, with
/// the cases' messages; how many reports went (writer).
fn delete(conn: &Connection, ids: &IdMaps, doomed: &[Doomed]) -> OpResult<u64> {
    let mut deleted = 0u64;
    for (seq, report_id, _, _) in doomed {
        // The attachments' chunks go with them, and the report's envelope with it (ON DELETE
        // CASCADE).
        conn.prepare_cached("DELETE FROM attachments WHERE report_id = ?1")?
            .execute([report_id])?;
        deleted += conn
            .prepare_cached("DELETE FROM reports WHERE seq = ?1")?
            .execute([seq])? as u64;
        ids.remove_report(array(report_id.as_slice())?);
    }
    let mut cases: Vec<(Seq, &Vec<u8>)> = doomed
        .iter()
        .map(|(_, _, case_seq, case_id)| (*case_seq, case_id))
        .collect();
    cases.sort();
    cases.dedup();
    for (case_seq, case_id) in cases {
        let gone = conn
            .prepare_cached(
                "DELETE FROM cases WHERE seq = ?1 AND NOT EXISTS (SELECT 1 FROM reports WHERE case_seq = ?1)",
            )?
            .execute([case_seq])?;
        if gone > 0 {
            conn.prepare_cached("DELETE FROM messages WHERE case_id = ?1")?
                .execute([case_id])?;
            ids.remove_case(array(case_id.as_slice())?);
        }
    }
    Ok(deleted)
}

/// Bytes the database's pages in use take (reader).
pub(super) fn usage(conn: &Connection) -> OpResult<u64> {
    let pragma = |name: &str| -> OpResult<u64> {
        let value: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))?;
        Ok(value.unsigned_abs())
    };
    let pages = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    Ok(pages.saturating_mul(pragma("page_size")?))
}

/// Totals for `/metrics` (reader).
pub(super) fn stats(conn: &Connection) -> OpResult<StoreStats> {
    let pending: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM reports WHERE acked_at IS NULL")?
        .query_row([], |row| row.get(0))?;
    let acknowledged: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM reports WHERE acked_at IS NOT NULL")?
        .query_row([], |row| row.get(0))?;
    Ok(StoreStats {
        pending_reports: pending.unsigned_abs(),
        acknowledged_reports: acknowledged.unsigned_abs(),
    })
}
