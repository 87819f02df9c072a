//! Reports: intake, leases, acknowledgement, transfer, retention and totals, each a statement
//! or a short transaction that any number of nodes may run at once.

use chrono::{DateTime, Utc};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::{PgConnection, PgPool};

use super::{array, db_error, millis, time, to_i64, to_u64};
use crate::store::{
    AttachmentProgress, DeclaredAttachment, Delivery, Expired, NewReport, StoreResult, StoreStats,
    SubmitOutcome, TransferOutcome,
};
use tipline_core::api::bounds::PageBudget;
use tipline_core::crypto::hashes_equal;
use tipline_core::report::{CaseId, ReportId};

/// What is stored under a report id: `Duplicate` if it is the same envelope, else `Conflict`.
async fn existing(conn: &mut PgConnection, report: &NewReport) -> StoreResult<Option<SubmitOutcome>> {
    let row: Option<(Vec<u8>, Vec<u8>)> =
        query_as("SELECT envelope_sha256, receipt FROM reports WHERE report_id = $1")
            .bind(&report.report_id.0[..])
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    Ok(row.map(|(sha256, receipt)| {
        if sha256 == report.envelope_sha256 {
            SubmitOutcome::Duplicate { receipt }
        } else {
            SubmitOutcome::Conflict
        }
    }))
}

/// Stores a report and, if new, its case, in one transaction.
pub(super) async fn submit(pool: &PgPool, report: &NewReport) -> StoreResult<SubmitOutcome> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    if let Some(outcome) = existing(&mut tx, report).await? {
        return Ok(outcome);
    }
    // The case: created, or found with the same secret (another report of the same reporter;
    // the case stays with the unit that handles it now). A case created at the same moment by
    // another node is waited for by the insert, then read.
    query(
        "INSERT INTO cases (case_id, unit_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (case_id) DO NOTHING",
    )
    .bind(&report.case_id.0[..])
    .bind(&report.unit_id)
    .bind(&report.case_secret_hash[..])
    .bind(millis(report.received_at))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    let hash: Vec<u8> = query_scalar("SELECT secret_hash FROM cases WHERE case_id = $1 FOR KEY SHARE")
        .bind(&report.case_id.0[..])
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
    if !hashes_equal(&array(&hash)?, &report.case_secret_hash) {
        // Dropping the transaction rolls it back: nothing is stored.
        return Ok(SubmitOutcome::CaseConflict);
    }
    // The same id raced to another node: this insert waits for the other transaction, then
    // does nothing if it committed, and the stored row decides.
    let inserted = query(
        "INSERT INTO reports (report_id, unit_id, case_id, state, received_at, envelope_sha256, receipt, envelope)
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7)
         ON CONFLICT (report_id) DO NOTHING",
    )
    .bind(&report.report_id.0[..])
    .bind(&report.unit_id)
    .bind(&report.case_id.0[..])
    .bind(millis(report.received_at))
    .bind(&report.envelope_sha256[..])
    .bind(&report.receipt)
    .bind(&report.envelope)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if inserted == 0 {
        let outcome = existing(&mut tx, report).await?;
        return Ok(outcome.unwrap_or(SubmitOutcome::Conflict));
    }
    declare(&mut tx, &report.report_id.0, &report.attachments, None).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(SubmitOutcome::Created)
}

/// Records the attachments declared for a report, none received yet.
pub(super) async fn declare(
    conn: &mut PgConnection,
    report_id: &[u8],
    declared: &[DeclaredAttachment],
    upload_hash: Option<&[u8; 32]>,
) -> StoreResult<()> {
    if declared.is_empty() {
        return Ok(());
    }
    let indexes: Vec<i32> = declared.iter().map(|a| i32::from(a.index)).collect();
    let sizes = declared
        .iter()
        .map(|a| to_i64(a.sealed_size))
        .collect::<StoreResult<Vec<i64>>>()?;
    query(
        "INSERT INTO attachments (report_id, idx, sealed_size, received, complete, upload_hash)
         SELECT $1, idx, size, 0, size = 0, $4 FROM UNNEST($2::INTEGER[], $3::BIGINT[]) AS d (idx, size)",
    )
    .bind(report_id)
    .bind(&indexes)
    .bind(&sizes)
    .bind(upload_hash.map(|h| &h[..]))
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A leased row as the update returns it.
type LeasedRow = (Vec<u8>, Vec<u8>, i64, i32, i64, Vec<u8>, i64);

/// Leases the unit's oldest deliverable reports until `until`: rows another node is leasing at
/// this moment are skipped, not waited for, and never given twice.
pub(super) async fn lease(
    pool: &PgPool,
    unit_id: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let candidates: Vec<(i64, i32)> = query_as(
        "SELECT seq, octet_length(envelope) FROM reports
         WHERE unit_id = $1 AND acked_at IS NULL AND (state = 'queued' OR lease_until <= $2)
         ORDER BY received_at, seq LIMIT $3
         FOR UPDATE SKIP LOCKED",
    )
    .bind(unit_id)
    .bind(millis(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    // Only what fits the page is leased; the rest stays queued (and unlocked at commit).
    let mut page = PageBudget::new();
    let rows: Vec<i64> = candidates
        .into_iter()
        .take_while(|(_, size)| page.take(usize::try_from(*size).unwrap_or(usize::MAX)))
        .map(|(seq, _)| seq)
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut leased: Vec<LeasedRow> = query_as(
        "UPDATE reports SET state = 'leased', lease_until = $2, delivery_count = delivery_count + 1
         WHERE seq = ANY($1)
         RETURNING report_id, case_id, received_at, delivery_count, lease_until, envelope, seq",
    )
    .bind(&rows)
    .bind(millis(until))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    leased.sort_by_key(|row| (row.2, row.6));
    let ids: Vec<Vec<u8>> = leased.iter().map(|row| row.0.clone()).collect();
    let attachments: Vec<(Vec<u8>, i32, i64, i64)> = query_as(
        "SELECT report_id, idx, sealed_size, received FROM attachments
         WHERE report_id = ANY($1) ORDER BY report_id, idx",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;

    let mut deliveries = Vec::with_capacity(leased.len());
    for (id, case_id, received_at, delivery_count, lease_until, envelope, _) in leased {
        let progress = attachments
            .iter()
            .filter(|(report, ..)| *report == id)
            .map(|(_, index, sealed_size, received)| {
                Ok(AttachmentProgress {
                    index: u16::try_from(*index)
                        .map_err(|_| crate::store::StoreError::Database("stored index".to_owned()))?,
                    sealed_size: to_u64(*sealed_size)?,
                    received: to_u64(*received)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        deliveries.push(Delivery {
            attachments: progress,
            report_id: ReportId(array(&id)?),
            envelope,
            case_id: CaseId(array(&case_id)?),
            received_at: time(received_at)?,
            delivery_count: delivery_count.unsigned_abs(),
            lease_until: time(lease_until)?,
        });
    }
    Ok(deliveries)
}

/// The earliest lease expiry among the unit's leased, unacknowledged reports.
pub(super) async fn next_lease_expiry(pool: &PgPool, unit_id: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let earliest: Option<i64> = query_scalar(
        "SELECT MIN(lease_until) FROM reports WHERE unit_id = $1 AND acked_at IS NULL AND state = 'leased'",
    )
    .bind(unit_id)
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    earliest.map(time).transpose()
}

/// Acknowledges a report of the unit; whether it is the unit's (acknowledged now or before).
pub(super) async fn ack(
    pool: &PgPool,
    unit_id: &str,
    report_id: &ReportId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    // One statement: the update, or else whether the row is the unit's and acknowledged before.
    let known: bool = query_scalar(
        "WITH updated AS (
             UPDATE reports SET state = 'acked', acked_at = $3, lease_until = NULL
             WHERE report_id = $1 AND unit_id = $2 AND acked_at IS NULL
             RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM updated)
             OR EXISTS (SELECT 1 FROM reports WHERE report_id = $1 AND unit_id = $2)",
    )
    .bind(&report_id.0[..])
    .bind(unit_id)
    .bind(millis(now))
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    Ok(known)
}

/// Acknowledges several reports of `unit_id` in one statement (one commit); the ids that are not
/// that unit's reports, in the order given, each once.
pub(super) async fn ack_many(
    pool: &PgPool,
    unit_id: &str,
    report_ids: &[ReportId],
    now: DateTime<Utc>,
) -> StoreResult<Vec<ReportId>> {
    let ids: Vec<Vec<u8>> = report_ids.iter().map(|id| id.0.to_vec()).collect();
    // The second select reads the rows as they were before the update; the ids and units it
    // looks at are not changed by it.
    let known: Vec<Vec<u8>> = query_scalar(
        "WITH updated AS (
             UPDATE reports SET state = 'acked', acked_at = $3, lease_until = NULL
             WHERE report_id = ANY($1) AND unit_id = $2 AND acked_at IS NULL
             RETURNING report_id
         )
         SELECT report_id FROM updated
         UNION
         SELECT report_id FROM reports WHERE report_id = ANY($1) AND unit_id = $2",
    )
    .bind(&ids)
    .bind(unit_id)
    .bind(millis(now))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    let mut unknown: Vec<ReportId> = Vec::new();
    for id in report_ids {
        if !known.iter().any(|k| k[..] == id.0[..]) && !unknown.contains(id) {
            unknown.push(*id);
        }
    }
    Ok(unknown)
}

/// Moves a report and its case to another unit, queued afresh with a new envelope and new
/// declared attachments. The stored digest and receipt stay those of the original submission.
pub(super) async fn transfer(
    pool: &PgPool,
    from_unit: &str,
    report_id: &ReportId,
    to_unit: &str,
    envelope: &[u8],
    declared: &[DeclaredAttachment],
    upload_hash: Option<&[u8; 32]>,
) -> StoreResult<TransferOutcome> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let id = &report_id.0[..];
    let case_id: Option<Vec<u8>> =
        query_scalar("SELECT case_id FROM reports WHERE report_id = $1 AND unit_id = $2 FOR UPDATE")
            .bind(id)
            .bind(from_unit)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
    let Some(case_id) = case_id else {
        return Ok(TransferOutcome::NotFound);
    };
    query(
        "UPDATE reports SET unit_id = $2, envelope = $3, state = 'queued', lease_until = NULL,
                            delivery_count = 0, acked_at = NULL
         WHERE report_id = $1",
    )
    .bind(id)
    .bind(to_unit)
    .bind(envelope)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    // The old attachments' chunks go with them (ON DELETE CASCADE).
    query("DELETE FROM attachments WHERE report_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    declare(&mut tx, id, declared, upload_hash).await?;
    query("UPDATE cases SET unit_id = $2 WHERE case_id = $1")
        .bind(&case_id)
        .bind(to_unit)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(TransferOutcome::Moved)
}

/// Deletes the reports `select` picks (a query of `report_id`s with `$1` and `$2` as given),
/// in batches, with their attachments, and the cases left without reports with their messages.
async fn delete_batches(pool: &PgPool, select: &str, bound: i64, batch: i64) -> StoreResult<u64> {
    let sql = format!(
        "WITH doomed AS ({select} FOR UPDATE SKIP LOCKED),
              gone AS (DELETE FROM reports r USING doomed d WHERE r.report_id = d.report_id
                       RETURNING r.case_id),
              cases_gone AS (DELETE FROM cases c
                             WHERE c.case_id IN (SELECT case_id FROM gone)
                               AND NOT EXISTS (SELECT 1 FROM reports r2
                                               WHERE r2.case_id = c.case_id
                                                 AND r2.report_id NOT IN (SELECT report_id FROM doomed))
                             RETURNING 1)
         SELECT (SELECT COUNT(*) FROM gone), (SELECT COUNT(*) FROM cases_gone)"
    );
    let mut total = 0u64;
    loop {
        let (reports, _cases): (i64, i64) = query_as(&sql)
            .bind(bound)
            .bind(batch)
            .fetch_one(pool)
            .await
            .map_err(db_error)?;
        total += reports.unsigned_abs();
        if reports < batch {
            return Ok(total);
        }
    }
}

/// Deletes reports acknowledged before `acked_before` (with attachments, and cases left empty
/// with their messages), expired alerts and old push events; how many reports went.
pub(super) async fn purge(
    pool: &PgPool,
    acked_before: DateTime<Utc>,
    now: DateTime<Utc>,
    batch: i64,
) -> StoreResult<u64> {
    let deleted = delete_batches(
        pool,
        "SELECT report_id FROM reports WHERE acked_at IS NOT NULL AND acked_at < $1 ORDER BY acked_at LIMIT $2",
        millis(acked_before),
        batch,
    )
    .await?;
    query("DELETE FROM alerts WHERE expires_at <= $1")
        .bind(millis(now))
        .execute(pool)
        .await
        .map_err(db_error)?;
    super::push::prune(pool, now).await?;
    if deleted > 0 {
        vacuum(pool).await?;
    }
    Ok(deleted)
}

/// Deletes reports never acknowledged and received before `received_before`, and the uploads
/// still incomplete of the reports received before it.
pub(super) async fn expire(
    pool: &PgPool,
    received_before: DateTime<Utc>,
    batch: i64,
) -> StoreResult<Expired> {
    let before = millis(received_before);
    let reports = delete_batches(
        pool,
        "SELECT report_id FROM reports WHERE acked_at IS NULL AND received_at < $1 ORDER BY received_at LIMIT $2",
        before,
        batch,
    )
    .await?;
    let mut uploads = 0u64;
    loop {
        // The chunks go with them (ON DELETE CASCADE).
        let dropped = query(
            "DELETE FROM attachments WHERE (report_id, idx) IN (
                 SELECT a.report_id, a.idx FROM attachments a JOIN reports r ON r.report_id = a.report_id
                 WHERE NOT a.complete AND r.received_at < $1 LIMIT $2
                 FOR UPDATE OF a SKIP LOCKED)",
        )
        .bind(before)
        .bind(batch)
        .execute(pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        uploads += dropped;
        if dropped < batch.unsigned_abs() {
            break;
        }
    }
    let expired = Expired { reports, uploads };
    if expired != Expired::default() {
        tracing::debug!(reports, uploads, "postgres expiry");
        vacuum(pool).await?;
    }
    Ok(expired)
}

/// Makes the room of deleted rows reusable at once, and gives back empty pages at the end of the
/// tables to the file system, so that the storage budget (measured as the tables' size) sees
/// what retention freed without waiting for autovacuum.
async fn vacuum(pool: &PgPool) -> StoreResult<()> {
    sqlx_core::executor::Executor::execute(
        pool,
        "VACUUM (SKIP_LOCKED) attachment_chunks, attachments, messages, reports, cases",
    )
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Totals for `/metrics`.
pub(super) async fn stats(pool: &PgPool) -> StoreResult<StoreStats> {
    let (pending, acknowledged): (i64, i64) = query_as(
        "SELECT COUNT(*) FILTER (WHERE acked_at IS NULL), COUNT(*) FILTER (WHERE acked_at IS NOT NULL)
         FROM reports",
    )
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    Ok(StoreStats {
        pending_reports: pending.unsigned_abs(),
        acknowledged_reports: acknowledged.unsigned_abs(),
    })
}
