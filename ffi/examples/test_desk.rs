//! A minimal unit desk for the binding tests (Python and Kotlin): it plays the police side of the
//! flow against a live server, so that the tests can drive the generated bindings end to end
//! without the full desk tool. Not shipped: examples are not part of the library.
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
use serde::Deserialize;
use serde_json::{json, Value};
use tipline_core::alert::{Alert, Severity};
use tipline_core::attachment::{self, AttachmentKey};
use tipline_core::crypto::OsRandom;
use tipline_core::encoding::{b64, unb64};
use tipline_core::envelope::{open_report, Envelope};
use tipline_core::keys::{SigningKey, UnitKeyFile};
use tipline_core::message::{seal_reply_with_rng, CaseMessage};
use tipline_core::report::{CaseId, MessageId, ReportId};
use tipline_core::request_auth::{sign_request, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_UNIT};

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

#[derive(Deserialize)]
struct Inbox {
    reports: Vec<Delivered>,
}

#[derive(Deserialize)]
struct Delivered {
    report_id: ReportId,
    envelope: String,
    case_id: CaseId,
}

/// A desk signed in as one unit.
struct Desk {
    http: reqwest::Client,
    server: String,
    unit_id: String,
    signing: SigningKey,
    keys: UnitKeyFile,
}

impl Desk {
    /// Sends a request signed with the unit's key and returns the body; fails on any non-2xx.
    async fn call(&self, method: reqwest::Method, path: &str, body: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let timestamp = Utc::now().timestamp();
        let signature = sign_request(&self.signing, method.as_str(), path, timestamp, &body);
        let response = self
            .http
            .request(method, format!("{}{path}", self.server))
            .header(HEADER_UNIT, &self.unit_id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if !status.is_success() {
            bail!("{path}: {status} {}", String::from_utf8_lossy(&bytes));
        }
        Ok(bytes)
    }

    async fn pull(&self, wait: Duration) -> anyhow::Result<Vec<Delivered>> {
        let until = Instant::now() + wait;
        let path = format!("/v1/units/{}/inbox?limit=10", self.unit_id);
        loop {
            let inbox: Inbox =
                serde_json::from_slice(&self.call(reqwest::Method::GET, &path, vec![]).await?)?;
            if !inbox.reports.is_empty() || Instant::now() > until {
                return Ok(inbox.reports);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Opens one report with its attachments, acknowledges it and replies in its case.
    async fn handle(&self, delivered: Delivered, text: &str) -> anyhow::Result<Value> {
        let envelope = Envelope::from_bytes(&unb64(&delivered.envelope)?)?;
        let opened = open_report(&envelope, &self.unit_id, &self.keys.encryption_key())?;
        let mut attachments = Vec::new();
        for info in &opened.report.attachments {
            let path = format!(
                "/v1/units/{}/reports/{}/attachments/{}",
                self.unit_id, delivered.report_id, info.index
            );
            let sealed = self.call(reqwest::Method::GET, &path, vec![]).await?;
            let mut plain = Vec::new();
            let key = AttachmentKey::derive(&opened.context, info.index)?;
            attachment::decrypt(&key, info, &mut &sealed[..], &mut plain)?;
            attachments.push(json!({
                "index": info.index, "name": info.name, "media_type": info.media_type,
                "size": info.size, "bytes_b64": b64(&plain),
            }));
        }
        let ack = format!("/v1/units/{}/reports/{}/ack", self.unit_id, delivered.report_id);
        self.call(reqwest::Method::POST, &ack, vec![]).await?;
        let message = CaseMessage {
            case_id: delivered.case_id,
            message_id: MessageId::random()?,
            unit_id: self.unit_id.clone(),
            text: text.to_owned(),
            sent_at: Utc::now(),
        };
        let sealed = seal_reply_with_rng(
            &message,
            &self.signing,
            &opened.report.reply_key,
            &mut OsRandom::new(),
        )?;
        let post = format!("/v1/units/{}/cases/{}/messages", self.unit_id, delivered.case_id);
        let body = serde_json::to_vec(&json!({ "envelope": b64(&sealed.to_bytes()) }))?;
        self.call(reqwest::Method::POST, &post, body).await?;
        Ok(json!({
            "report_id": delivered.report_id.to_string(),
            "case_id": delivered.case_id.to_string(),
            "category": opened.report.category,
            "text": opened.report.text,
            "language": opened.report.language,
            "attachments": attachments,
            "reply_message_id": message.message_id.to_string(),
        }))
    }

    async fn alert(
        &self,
        region: String,
        language: String,
        title: String,
        body: String,
    ) -> anyhow::Result<Value> {
        let now = Utc::now();
        let alert = Alert {
            alert_id: MessageId::random()?,
            unit_id: self.unit_id.clone(),
            regions: vec![region],
            severity: Severity::Warning,
            title: BTreeMap::from([(language.clone(), title)]),
            body: BTreeMap::from([(language, body)]),
            issued_at: now,
            expires_at: now + chrono::Duration::days(1),
        };
        let signed = serde_json::to_vec(&alert.sign(&self.signing)?)?;
        let path = format!("/v1/units/{}/alerts", self.unit_id);
        self.call(reqwest::Method::POST, &path, signed).await?;
        Ok(json!({ "alert_id": alert.alert_id.to_string() }))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let keys: UnitKeyFile = serde_json::from_slice(
        &std::fs::read(&args.unit_key).with_context(|| format!("cannot read {}", args.unit_key.display()))?,
    )?;
    let desk = Desk {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        server: args.server.trim_end_matches('/').to_owned(),
        unit_id: keys.unit_id.clone(),
        signing: keys.signing_key()?,
        keys,
    };
    let out = match args.command {
        Command::Reply { text, wait_secs } => {
            let mut reports = Vec::new();
            for delivered in desk.pull(Duration::from_secs(wait_secs)).await? {
                reports.push(desk.handle(delivered, &text).await?);
            }
            json!({ "reports": reports })
        }
        Command::Alert {
            region,
            language,
            title,
            body,
        } => desk.alert(region, language, title, body).await?,
    };
    println!("{out}");
    Ok(())
}
