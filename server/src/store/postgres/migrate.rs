//! The schema, as numbered SQL files kept beside this one and applied in order at start. The
//! versions applied are recorded in `tipline_migrations`; a migration that ran is never run
//! again, and one is never edited once released, only followed by another. Several nodes
//! starting at once take turns on a transaction-scoped advisory lock, so each migration runs
//! once, inside the transaction that records it.

use sqlx_postgres::PgPool;

use super::db_error;
use crate::store::{StoreError, StoreResult};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_submit_in_one_call.sql"),
    include_str!("migrations/0003_submit_many.sql"),
    include_str!("migrations/0004_submit_in_fewer_statements.sql"),
];

/// The advisory lock key that serializes migrations across nodes ("tipline" in ASCII, 7 bytes).
const MIGRATION_LOCK: i64 = 0x0074_6970_6c69_6e65;

/// Applies the migrations not applied yet.
pub(super) async fn run(pool: &PgPool) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    // Another node's migration is waited for however long it takes.
    sqlx_core::query::query("SET LOCAL lock_timeout = 0")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx_core::query::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx_core::query::query(
        "CREATE TABLE IF NOT EXISTS tipline_migrations (
             version     INTEGER PRIMARY KEY,
             applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    let applied: Option<i32> =
        sqlx_core::query_scalar::query_scalar("SELECT MAX(version) FROM tipline_migrations")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
    let applied = usize::try_from(applied.unwrap_or(0))
        .map_err(|_| StoreError::Database("negative schema version".to_owned()))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database's schema (version {applied}) is newer than this server's ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        // Several statements in one simple query: PostgreSQL runs them in the transaction.
        sqlx_core::executor::Executor::execute(&mut *tx, *sql)
            .await
            .map_err(db_error)?;
        let version =
            i32::try_from(index + 1).map_err(|_| StoreError::Database("too many migrations".to_owned()))?;
        sqlx_core::query::query("INSERT INTO tipline_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tracing::info!(version, "postgres schema migrated");
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}
