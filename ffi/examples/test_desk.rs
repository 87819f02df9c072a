//! A minimal unit desk for the binding tests (Python and Kotlin): it plays the police side of the
//! flow against a live server, so that the tests can drive the generated bindings end to end
//! without the full desk tool. It is core's desk ([`tipline_core::desk`]), the one the desk tool
//! runs, over a throwaway store in a temporary folder. Not shipped: examples are not part of the
//! library.
//!
//! ```text
//! test_desk --server URL --unit-key units/<unit>.key reply --text "..."   # pull, open, ack, reply
//! test_desk --server URL --unit-key units/<unit>.key alert --region DK-84 --language da \
//!           --title "..." --body "..."                                      # publish a signed alert
//! ```
//!
//! Each command prints one JSON document on stdout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::Utc;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use tipline_core::alert::{Alert, Severity};
use tipline_core::desk::{AttachmentState, Delivery, Desk, DeskClient, DeskStore, KdfParams};
use tipline_core::encoding::b64;
use tipline_core::keys::UnitKeyFile;
use tipline_core::report::MessageId;

/// Bounds every call but downloads, which only connecting bounds.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The throwaway store's key derivation: cheap, as it lives for one command and keeps test data.
const THROWAWAY_KDF: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

#[derive(Parser)]
struct Args {
    /// The intake server, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    server: String,
    /// The unit's key file (JSON, as `tipline-server --dev` writes it).
    #[arg(long)]
    unit_key: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Waits for reports, opens each with its attachments, acknowledges it and replies.
    Reply {
        /// The reply's text.
        #[arg(long)]
        text: String,
        /// How long to wait for a first report.
        #[arg(long, default_value_t = 30)]
        wait_secs: u64,
    },
    /// Publishes a signed alert for one region, in one language, valid for a day.
    Alert {
        #[arg(long)]
        region: String,
        #[arg(long)]
        language: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        body: String,
    },
}

/// Leases up to ten reports, asking again every 200 ms until some come or `wait` is over.
async fn pull(client: &DeskClient, wait: Duration) -> anyhow::Result<Vec<Delivery>> {
    let until = Instant::now() + wait;
    loop {
        let reports = client.pull(10).await?;
        if !reports.is_empty() || Instant::now() > until {
            return Ok(reports);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Receives one report as the desk does (opened, stored, every attachment downloaded, decrypted
/// and checked, then acknowledged), replies in its case, and says what it opened. An attachment
/// still uploading or that did not check out fails the command.
async fn handle(desk: &Desk, delivery: &Delivery, text: &str) -> anyhow::Result<Value> {
    let received = desk.receive(delivery).await?;
    let record = received.record;
    if !received.pending.is_empty() {
        bail!(
            "report {}: attachments {:?} are still uploading",
            record.report_id,
            received.pending
        );
    }
    let mut attachments = Vec::new();
    for (info, state) in record.report.attachments.iter().zip(&record.attachments) {
        if let AttachmentState::Invalid { reason } = state {
            bail!("report {}, attachment {}: {reason}", record.report_id, info.index);
        }
        let mut plain = Vec::new();
        desk.store()
            .read_attachment(record.report_id, info.index, &mut plain)?;
        attachments.push(json!({
            "index": info.index, "name": info.name, "media_type": info.media_type,
            "size": info.size, "bytes_b64": b64(&plain),
        }));
    }
    let reply = desk.reply(&record.report_id.to_string(), text).await?;
    Ok(json!({
        "report_id": record.report_id.to_string(),
        "case_id": record.case_id.to_string(),
        "category": record.report.category,
        "text": record.report.text,
        "language": record.report.language,
        "attachments": attachments,
        "reply_message_id": reply.message_id.to_string(),
    }))
}

/// Publishes an alert of the desk's unit for `region`, in `language`, valid for a day.
async fn alert(
    desk: &Desk,
    region: String,
    language: String,
    title: String,
    body: String,
) -> anyhow::Result<Value> {
    let now = Utc::now();
    let alert = Alert {
        alert_id: MessageId::random()?,
        unit_id: desk.unit_id().to_owned(),
        regions: vec![region],
        severity: Severity::Warning,
        title: BTreeMap::from([(language.clone(), title)]),
        body: BTreeMap::from([(language, body)]),
        issued_at: now,
        expires_at: now + chrono::Duration::days(1),
    };
    let alert_id = desk.publish_alert(&alert).await?;
    Ok(json!({ "alert_id": alert_id.to_string() }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let keys: UnitKeyFile = serde_json::from_slice(
        &std::fs::read(&args.unit_key).with_context(|| format!("cannot read {}", args.unit_key.display()))?,
    )?;
    let folder = tempfile::tempdir()?;
    let store = DeskStore::open(folder.path(), &keys.unit_id, "throwaway", THROWAWAY_KDF)?;
    let client = DeskClient::new(&args.server, None, TIMEOUT, &keys)?;
    let desk = Desk::new(client, store, keys)?;
    let out = match args.command {
        Command::Reply { text, wait_secs } => {
            let mut reports = Vec::new();
            for delivery in pull(desk.client(), Duration::from_secs(wait_secs)).await? {
                reports.push(handle(&desk, &delivery, &text).await?);
            }
            json!({ "reports": reports })
        }
        Command::Alert {
            region,
            language,
            title,
            body,
        } => alert(&desk, region, language, title, body).await?,
    };
    println!("{out}");
    Ok(())
}
