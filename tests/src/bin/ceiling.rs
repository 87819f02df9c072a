//! The load benchmark's ceiling: `tipline-server`'s own router, state and checks over a store
//! that keeps no report. A submission is parsed, checked (envelope, unit, attachments, stamp,
//! limiter), given a receipt signed in a batch, answered 201 and pushed, exactly as by the real
//! server, but `submit_report` returns at once without writing anything; every other call goes
//! to the real SQLite store (the dev setup, the directory, the desks).
//!
//! `loadgen` runs it to measure how fast intake could be if durable storage cost nothing: the
//! part of the gap to the bare handler that no store could close. It is a measuring instrument,
//! never a server: it answers with receipts for reports it drops. Loopback only.
//!
//! It takes `tipline-server`'s arguments and prints what `--dev` prints.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clap::Parser;
use tipline_core::report::{CaseId, MessageId, ReportId};
use tipline_server::config::{self, Config};
use tipline_server::launch::{Backend, ServerConfig};
use tipline_server::store::{
    AppendOutcome, AttachmentProgress, CaseRecord, DeclaredAttachment, Delivery, Expired, MessageDirection,
    NewReport, SealedMessage, Store, StoreResult, StoreStats, StoredAlert, SubmitOutcome, TransferOutcome,
};
use tipline_server::{app, dev};

/// The configured store, except that a submitted report is dropped and reported stored.
struct KeepsNoReport(Arc<dyn Store>);

#[async_trait]
impl Store for KeepsNoReport {
    async fn submit_report(&self, report: NewReport) -> StoreResult<SubmitOutcome> {
        drop(report);
        Ok(SubmitOutcome::Created)
    }

    async fn lease_reports(
        &self,
        unit_id: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        self.0.lease_reports(unit_id, now, lease, limit).await
    }

    async fn next_lease_expiry(&self, unit_id: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.0.next_lease_expiry(unit_id).await
    }

    async fn ack_report(&self, unit_id: &str, report_id: ReportId, now: DateTime<Utc>) -> StoreResult<bool> {
        self.0.ack_report(unit_id, report_id, now).await
    }

    async fn ack_reports(
        &self,
        unit_id: &str,
        report_ids: &[ReportId],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ReportId>> {
        self.0.ack_reports(unit_id, report_ids, now).await
    }

    async fn append_attachment(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: [u8; 32],
        offset: u64,
        bytes: &[u8],
    ) -> StoreResult<AppendOutcome> {
        self.0
            .append_attachment(report_id, index, case_secret_hash, offset, bytes)
            .await
    }

    async fn attachment_state(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: Option<[u8; 32]>,
    ) -> StoreResult<Option<AttachmentProgress>> {
        self.0.attachment_state(report_id, index, case_secret_hash).await
    }

    async fn read_attachment(
        &self,
        unit_id: &str,
        report_id: ReportId,
        index: u16,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<Vec<u8>>> {
        self.0
            .read_attachment(unit_id, report_id, index, offset, len)
            .await
    }

    async fn transfer_report(
        &self,
        from_unit: &str,
        report_id: ReportId,
        to_unit: &str,
        envelope: Vec<u8>,
        attachments: Vec<DeclaredAttachment>,
        upload_hash: Option<[u8; 32]>,
    ) -> StoreResult<TransferOutcome> {
        self.0
            .transfer_report(from_unit, report_id, to_unit, envelope, attachments, upload_hash)
            .await
    }

    async fn case(&self, case_id: CaseId) -> StoreResult<Option<CaseRecord>> {
        self.0.case(case_id).await
    }

    async fn add_message(
        &self,
        case_id: CaseId,
        message_id: MessageId,
        direction: MessageDirection,
        envelope: Vec<u8>,
        now: DateTime<Utc>,
    ) -> StoreResult<SealedMessage> {
        self.0
            .add_message(case_id, message_id, direction, envelope, now)
            .await
    }

    async fn messages(&self, case_id: CaseId, after: i64, limit: u32) -> StoreResult<Vec<SealedMessage>> {
        self.0.messages(case_id, after, limit).await
    }

    async fn directory(&self, format: u32) -> StoreResult<Option<(u64, Vec<u8>)>> {
        self.0.directory(format).await
    }

    async fn publish_directory(&self, format: u32, version: u64, signed: Vec<u8>) -> StoreResult<bool> {
        self.0.publish_directory(format, version, signed).await
    }

    async fn add_alert(&self, alert: StoredAlert) -> StoreResult<()> {
        self.0.add_alert(alert).await
    }

    async fn alerts(&self, region: &str, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<StoredAlert>> {
        self.0.alerts(region, now, limit).await
    }

    async fn purge(&self, acked_before: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        self.0.purge(acked_before, now).await
    }

    async fn expire(&self, received_before: DateTime<Utc>) -> StoreResult<Expired> {
        self.0.expire(received_before).await
    }

    async fn usage(&self) -> StoreResult<u64> {
        self.0.usage().await
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.0.stats().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.0.ping().await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    anyhow::ensure!(
        config.listen.ip().is_loopback(),
        "the ceiling listens on loopback only"
    );
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let server_key = config::load_or_create_server_key(&config.data_dir)?;
    let opened = Backend::open(&config.database()?).await?;
    let store: Arc<dyn Store> = Arc::new(KeepsNoReport(opened.store));
    let setup = if config.dev {
        Some(
            dev::prepare(
                &config.data_dir,
                store.as_ref(),
                server_key.verifying_key(),
                Utc::now(),
            )
            .await?,
        )
    } else {
        None
    };
    let authority = config
        .authority_key()?
        .context("no authority key: run with --dev")?;
    let state = ServerConfig {
        settings: config.settings(),
        ..ServerConfig::new(Backend::new(store), server_key, authority)
    }
    .state()
    .await?;
    anyhow::ensure!(
        state.directory().is_some(),
        "no verified directory: run with --dev"
    );
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    if let Some(setup) = &setup {
        println!("{}", setup.instructions(&url));
    }
    println!("ceiling (keeps no report) listening on {url}");
    std::io::stdout().flush()?;
    axum::serve(tipline_server::nodelay(listener), app(state)).await?;
    Ok(())
}
