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
use tipline_core::api::bounds::PAGE_ENVELOPE_BYTES;
use tipline_core::report::{CaseId, ReportId};

/// A row of `tipline_submit_many`: the report's position (from 1), the outcome, and the stored
/// digest and receipt of a report stored before.
type SubmitRow = (i32, String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Stores several reports with one call of `tipline_submit_many` (migrations 0003, 0004): one round
/// trip and one commit for all, each decided as `tipline_submit` decides it. Their ids must be
/// distinct. The outcomes are in the order of `reports`. An error in any of them fails the
/// whole call (nothing stored).
pub(super) async fn submit_many(
    pool: &PgPool,
    reports: &[&NewReport],
    origin: i64,
) -> StoreResult<Vec<SubmitOutcome>> {
    let (mut owners, mut indexes, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for (position, report) in (1i32..).zip(reports) {
        for attachment in &report.attachments {
            owners.push(position);
            indexes.push(i32::from(attachment.index));
            sizes.push(to_i64(attachment.sealed_size)?);
        }
    }
    let column = |field: fn(&NewReport) -> &[u8]| reports.iter().map(|r| field(r)).collect::<Vec<&[u8]>>();
    let rows: Vec<SubmitRow> = query_as(
        "SELECT item, outcome, stored_sha256, stored_receipt
         FROM tipline_submit_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ORDER BY item",
    )
    .bind(column(|r| &r.report_id.0[..]))
    .bind(reports.iter().map(|r| r.unit_id.as_str()).collect::<Vec<&str>>())
    .bind(column(|r| &r.case_id.0[..]))
    .bind(column(|r| &r.case_secret_hash[..]))
    .bind(
        reports
            .iter()
            .map(|r| millis(r.received_at))
            .collect::<Vec<i64>>(),
    )
    .bind(column(|r| &r.envelope_sha256[..]))
    .bind(column(|r| &r.receipt[..]))
    .bind(column(|r| &r.envelope[..]))
    .bind(&owners)
    .bind(&indexes)
    .bind(&sizes)
    .bind(origin)
    .bind(millis(Utc::now()))
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    if rows.len() != reports.len()
        || rows
            .iter()
            .enumerate()
            .any(|(i, row)| usize::try_from(row.0) != Ok(i + 1))
    {
        return Err(crate::store::StoreError::Database(
            "a batch of submissions came back with other rows".to_owned(),
        ));
    }
    Ok(reports
        .iter()
        .zip(rows)
        .map(|(report, (_, outcome, sha256, receipt))| submit_outcome(report, &outcome, sha256, receipt))
        .collect())
}

/// What `tipline_submit_many` said of `report`, as a [`SubmitOutcome`]: a report stored before under
/// the same id is a duplicate (its receipt given again) only with the same envelope digest.
fn submit_outcome(
    report: &NewReport,
    outcome: &str,
    sha256: Option<Vec<u8>>,
    receipt: Option<Vec<u8>>,
) -> SubmitOutcome {
    match (outcome, sha256, receipt) {
        ("created", ..) => SubmitOutcome::Created,
        ("exists", Some(sha256), Some(receipt)) if sha256 == report.envelope_sha256 => {
            SubmitOutcome::Duplicate { receipt }
        }
        ("case_conflict", ..) => SubmitOutcome::CaseConflict,
        _ => SubmitOutcome::Conflict,
    }
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

/// A leased row as the statement returns it: report id, case id, received at, delivery count,
/// lease until, envelope, and the attachments' indexes, sealed sizes and bytes received.
type LeasedRow = (
    Vec<u8>,
    Vec<u8>,
    i64,
    i32,
    i64,
    Vec<u8>,
    Vec<i32>,
    Vec<i64>,
    Vec<i64>,
);

/// Leases the unit's oldest deliverable reports until `until`: rows another node is leasing at
/// this moment are skipped, not waited for, and never given twice. One statement: the
/// candidates locked, the page cut at the envelope budget as `PageBudget` cuts it (the first
/// always, each next one while the running total fits), the lease taken, the attachments read.
pub(super) async fn lease(
    pool: &PgPool,
    unit_id: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let budget = i64::try_from(PAGE_ENVELOPE_BYTES)
        .map_err(|_| crate::store::StoreError::Database("page budget out of range".to_owned()))?;
    let leased: Vec<LeasedRow> = query_as(
        "WITH candidates AS (
             SELECT seq, received_at, octet_length(envelope)::BIGINT AS size FROM reports
             WHERE unit_id = $1 AND acked_at IS NULL AND (state = 'queued' OR lease_until <= $2)
             ORDER BY received_at, seq LIMIT $3
             FOR UPDATE SKIP LOCKED
         ), page AS (
             SELECT seq FROM (
                 SELECT seq,
                        row_number() OVER w AS n,
                        sum(size) OVER w AS total
                 FROM candidates
                 WINDOW w AS (ORDER BY received_at, seq ROWS UNBOUNDED PRECEDING)
             ) running
             WHERE n = 1 OR total <= $5
         ), leased AS (
             UPDATE reports SET state = 'leased', lease_until = $4, delivery_count = delivery_count + 1
             WHERE seq IN (SELECT seq FROM page)
             RETURNING report_id, case_id, received_at, delivery_count, lease_until, envelope, seq
         )
         SELECT l.report_id, l.case_id, l.received_at, l.delivery_count, l.lease_until, l.envelope,
                COALESCE(a.indexes, '{}'), COALESCE(a.sizes, '{}'), COALESCE(a.received, '{}')
         FROM leased l
         LEFT JOIN LATERAL (
             SELECT array_agg(idx ORDER BY idx) AS indexes,
                    array_agg(sealed_size ORDER BY idx) AS sizes,
                    array_agg(received ORDER BY idx) AS received
             FROM attachments WHERE report_id = l.report_id
         ) a ON TRUE
         ORDER BY l.received_at, l.seq",
    )
    .bind(unit_id)
    .bind(millis(now))
    .bind(i64::from(limit))
    .bind(millis(until))
    .bind(budget)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;

    let mut deliveries = Vec::with_capacity(leased.len());
    for (id, case_id, received_at, delivery_count, lease_until, envelope, indexes, sizes, received) in leased
    {
        let progress = indexes
            .iter()
            .zip(sizes.iter().zip(received.iter()))
            .map(|(index, (sealed_size, received))| {
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
/// declared attachments, with a push event for the new unit (recorded by node `origin`). The
/// stored digest and receipt stay those of the original submission.
#[allow(clippy::too_many_arguments)] // the trait method's arguments, and the node's number
pub(super) async fn transfer(
    pool: &PgPool,
    from_unit: &str,
    report_id: &ReportId,
    to_unit: &str,
    envelope: &[u8],
    declared: &[DeclaredAttachment],
    upload_hash: Option<&[u8; 32]>,
    origin: i64,
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
    // The case follows, and the new unit's streams on every node are told (see `push.rs`).
    query(
        "WITH moved AS (UPDATE cases SET unit_id = $2 WHERE case_id = $1)
         INSERT INTO push_events (unit_id, created_at, origin) VALUES ($2, $3, $4)",
    )
    .bind(&case_id)
    .bind(to_unit)
    .bind(millis(Utc::now()))
    .bind(origin)
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
    let mut raced = 0;
    loop {
        let counted: Result<(i64, i64), _> = query_as(&sql).bind(bound).bind(batch).fetch_one(pool).await;
        let (reports, _cases) = match counted {
            Ok(counted) => counted,
            // A submission added a report to a case this batch found empty (23503, the report's
            // foreign key): nothing was deleted; the batch goes again, and now keeps that case.
            Err(sqlx_core::Error::Database(ref db)) if db.code().as_deref() == Some("23503") && raced < 3 => {
                raced += 1;
                continue;
            }
            Err(e) => return Err(db_error(e)),
        };
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
