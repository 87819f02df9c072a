//! `tipline desk`: a unit's desk. It logs in with the unit's key file, keeps what it receives in
//! a store encrypted under a passphrase, and holds the live inbox.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use tipline_core::alert::{Alert, Severity};
use tipline_core::client::http::CALL_TIMEOUT;
use tipline_core::desk::{
    AttachmentState, Delivery, Desk, DeskClient, DeskStore, InboxEvent, KdfParams, MessageRecord, Received,
    ReportRecord, Status,
};
use tipline_core::directory::{SignedDirectory, VerifiedDirectory};
use tipline_core::report::{MessageId, Place, When};

use super::{explain, parse_public_key, read_unit_keys};
use crate::output::Output;

/// The environment variable that may hold the desk store's passphrase.
pub const PASSPHRASE_ENV: &str = "TIPLINE_DESK_PASSPHRASE";

#[derive(Args)]
pub struct DeskArgs {
    /// The intake server, e.g. https://intake.example.org.
    #[arg(long, env = "TIPLINE_SERVER")]
    server: Option<String>,
    /// The unit's private key file (from `tipline unit keygen`).
    #[arg(long, env = "TIPLINE_UNIT_KEY")]
    key: PathBuf,
    /// The desk's local store (a folder; created on first use, encrypted under a passphrase
    /// read from TIPLINE_DESK_PASSPHRASE or asked for).
    #[arg(long, env = "TIPLINE_DESK_STORE")]
    store: PathBuf,
    /// The authority's public key (base64url, or a file holding it): needed to transfer.
    #[arg(long, env = "TIPLINE_AUTHORITY_PUB", allow_hyphen_values = true)]
    authority_pub: Option<String>,
    /// Argon2id memory, in MiB, of the key of a store created now (existing stores keep theirs).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(8..=4096))]
    kdf_memory_mib: u32,
    #[command(subcommand)]
    command: DeskCommand,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SeverityArg {
    Info,
    Warning,
    Danger,
}

#[derive(Subcommand)]
pub enum DeskCommand {
    /// Receive reports: decrypt, store, fetch and verify attachments, acknowledge, show.
    Inbox {
        /// Hold the live stream and show each report as it arrives, until interrupted.
        #[arg(long)]
        follow: bool,
        /// Wait on the live stream for reports, take those that arrive, then stop.
        #[arg(long, conflicts_with = "follow")]
        once: bool,
        /// Seconds to wait for a report (--once) or for attachments still uploading.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// List the reports in the store.
    List,
    /// Show one report (by id or its first hex digits).
    Show { report: String },
    /// Write a report's attachments to a folder, after checking their SHA-256.
    Export {
        report: String,
        /// The folder to write them to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Set a report's status: new, in-progress, forwarded or closed.
    Status { report: String, status: String },
    /// Reply to the reporter (signed by the unit, sealed to the reporter).
    Reply {
        report: String,
        #[arg(long)]
        text: String,
    },
    /// Show a report's conversation, opening the reporter's follow-ups.
    Messages { report: String },
    /// Hand a report and its case to another unit, re-sealed to that unit's key.
    Transfer {
        report: String,
        /// The unit that takes it over.
        #[arg(long)]
        to: String,
    },
    /// Publish an alert, signed by the unit, for citizens of some regions.
    Alert {
        /// A region (ISO 3166, e.g. DK or DK-84); repeatable.
        #[arg(long, required = true)]
        region: Vec<String>,
        #[arg(long, value_enum)]
        severity: SeverityArg,
        /// LANG=TEXT, e.g. da="Pas på"; repeatable.
        #[arg(long, required = true)]
        title: Vec<String>,
        /// LANG=TEXT, one for each title language; repeatable.
        #[arg(long, required = true)]
        body: Vec<String>,
        #[arg(long, default_value_t = 24)]
        expires_in_hours: u32,
    },
}

/// The store's passphrase: from the environment, else asked for on the terminal.
pub fn passphrase(store: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
        return Ok(zeroize::Zeroizing::new(value));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("the desk store needs its passphrase: set {PASSPHRASE_ENV} or run in a terminal");
    }
    let mut prompt = dialoguer::Password::new().with_prompt(format!("Passphrase of {}", store.display()));
    if !DeskStore::exists(store) {
        prompt = prompt.with_confirmation("Repeat it", "the two passphrases differ");
    }
    Ok(zeroize::Zeroizing::new(prompt.interact()?))
}

pub async fn run(args: DeskArgs, out: &Output) -> anyhow::Result<()> {
    let keys = read_unit_keys(&args.key)?;
    let unit_id = keys.unit_id.clone();
    let creating = !DeskStore::exists(&args.store);
    let pass = passphrase(&args.store)?;
    let params = KdfParams {
        memory_kib: args.kdf_memory_mib * 1024,
        ..KdfParams::default()
    };
    let store = DeskStore::open(&args.store, &unit_id, &pass, params).map_err(|e| match e {
        tipline_core::Error::Refused {
            what: "desk store", ..
        } => {
            anyhow::anyhow!("wrong passphrase for the desk store in {}", args.store.display())
        }
        other => anyhow::Error::new(other).context(format!("desk store {}", args.store.display())),
    })?;
    if creating {
        out.note(&format!(
            "created the desk store of {unit_id} in {} (Argon2id, {} MiB)",
            args.store.display(),
            args.kdf_memory_mib
        ));
    }
    let url = args.server.clone().unwrap_or_default();
    let client = DeskClient::new(
        if url.is_empty() {
            "http://127.0.0.1:0"
        } else {
            &url
        },
        None,
        CALL_TIMEOUT,
        &keys,
    )?;
    let desk = Desk::new(client, store, keys)?;
    let need_server = || -> anyhow::Result<&str> {
        args.server
            .as_deref()
            .context("this command talks to the intake server: give --server (or TIPLINE_SERVER)")
    };
    let net = |e: tipline_core::Error| explain(&url, e);
    match args.command {
        DeskCommand::Inbox { follow, once, wait } => {
            need_server()?;
            let wait = Duration::from_secs(wait);
            if follow || once {
                follow_inbox(&desk, once, wait, out).await.map_err(|e| {
                    match e.downcast::<tipline_core::Error>() {
                        Ok(core) => net(core),
                        Err(e) => e,
                    }
                })
            } else {
                pull_inbox(&desk, wait, out)
                    .await
                    .map_err(|e| match e.downcast::<tipline_core::Error>() {
                        Ok(core) => net(core),
                        Err(e) => e,
                    })
            }
        }
        DeskCommand::List => {
            let reports = desk.store().reports()?;
            let rows: Vec<_> = reports.iter().map(summary_json).collect();
            out.result(
                || {
                    if reports.is_empty() {
                        return format!("no reports in the store of {unit_id}");
                    }
                    reports
                        .iter()
                        .map(|r| {
                            format!(
                                "{}  {}  {:<11}  {:<20} {}",
                                &r.report_id.to_string()[..12],
                                r.received_at.format("%Y-%m-%d %H:%M"),
                                r.status.name(),
                                r.report.category,
                                first_line(&r.report.text, 50)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                &rows,
            )
        }
        DeskCommand::Show { report } => {
            let record = desk.find(&report)?;
            out.result(|| describe(&record), &record_json(&record))
        }
        DeskCommand::Export { report, out: dir } => {
            let record = desk.find(&report)?;
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut written = Vec::new();
            for (info, state) in record.report.attachments.iter().zip(&record.attachments) {
                if *state != AttachmentState::Saved {
                    out.note(&format!(
                        "attachment {} ({}) is not stored: skipped",
                        info.index, info.name
                    ));
                    continue;
                }
                let path = dir.join(format!("{}-{}", info.index, info.name));
                desk.store().export_attachment(record.report_id, info, &path)?;
                written.push(path);
            }
            out.result(
                || {
                    written
                        .iter()
                        .map(|p| format!("wrote {} (SHA-256 verified)", p.display()))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                &json!({ "files": written }),
            )
        }
        DeskCommand::Status { report, status } => {
            let record = desk.set_status(&report, Status::parse(&status)?)?;
            out.result(
                || format!("report {} is now {}", record.report_id, record.status.name()),
                &summary_json(&record),
            )
        }
        DeskCommand::Reply { report, text } => {
            need_server()?;
            let message = desk.reply(&report, &text).await.map_err(net)?;
            out.result(
                || {
                    format!(
                        "replied in the case (message {}, position {})",
                        message.message_id, message.seq
                    )
                },
                &message,
            )
        }
        DeskCommand::Messages { report } => {
            need_server()?;
            let messages = desk.sync_messages(&report).await.map_err(net)?;
            out.result(|| conversation(&messages), &messages)
        }
        DeskCommand::Transfer { report, to } => {
            need_server()?;
            let directory = verified_directory(&desk, args.authority_pub.as_deref(), &url).await?;
            let record = desk.transfer(&report, &to, &directory).await.map_err(net)?;
            out.result(
                || {
                    format!(
                        "transferred report {} to {to}: re-sealed to its key, {} attachment(s) re-encrypted and uploaded; marked forwarded here",
                        record.report_id,
                        record.report.attachments.len()
                    )
                },
                &summary_json(&record),
            )
        }
        DeskCommand::Alert {
            region,
            severity,
            title,
            body,
            expires_in_hours,
        } => {
            need_server()?;
            let now = Utc::now();
            let alert = Alert {
                alert_id: MessageId::random()?,
                unit_id: unit_id.clone(),
                regions: region,
                severity: match severity {
                    SeverityArg::Info => Severity::Info,
                    SeverityArg::Warning => Severity::Warning,
                    SeverityArg::Danger => Severity::Danger,
                },
                title: pairs(&title, "--title")?,
                body: pairs(&body, "--body")?,
                issued_at: now,
                expires_at: now + chrono::Duration::hours(i64::from(expires_in_hours)),
            };
            let id = desk.publish_alert(&alert).await.map_err(net)?;
            out.result(
                || format!("published alert {id} for {}, until {}", alert.regions.join(","), alert.expires_at.format("%Y-%m-%d %H:%M UTC")),
                &json!({ "alert_id": id.to_string(), "regions": alert.regions, "expires_at": alert.expires_at }),
            )
        }
    }
}

/// The directory from the server, verified against the authority key.
pub async fn verified_directory(
    desk: &Desk,
    authority_pub: Option<&str>,
    url: &str,
) -> anyhow::Result<VerifiedDirectory> {
    let authority = parse_public_key(authority_pub.context(
        "transfer needs the authority's public key to verify the directory: give --authority-pub",
    )?)?;
    let json = desk
        .client()
        .api()
        .directory()
        .await
        .map_err(|e| explain(url, e.into()))?
        .with_context(|| format!("{url} has no directory published"))?;
    SignedDirectory::from_json(&json)
        .and_then(|d| d.verify(&authority, Utc::now(), None))
        .context("the server's directory does not verify against the authority key")
}

fn pairs(values: &[String], flag: &str) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    values
        .iter()
        .map(|v| {
            let (lang, text) = v
                .split_once('=')
                .with_context(|| format!("{flag} takes LANG=TEXT, e.g. en=\"Be careful\""))?;
            Ok((lang.trim().to_owned(), text.to_owned()))
        })
        .collect()
}

/// Takes the reports pending now (pull), then stops.
async fn pull_inbox(desk: &Desk, wait: Duration, out: &Output) -> anyhow::Result<()> {
    let mut received = Vec::new();
    loop {
        let batch = desk.client().pull(100).await?;
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            received.push(take(desk, &delivery, wait, out).await?);
        }
    }
    if received.is_empty() {
        out.note("no reports waiting");
    }
    out.json_only(&received)
}

/// Holds the live stream: every report as it arrives (and follow-up notices). With `once`,
/// stops after the reports that arrive together with the first.
async fn follow_inbox(desk: &Desk, once: bool, wait: Duration, out: &Output) -> anyhow::Result<()> {
    let mut received = Vec::new();
    let started = tokio::time::Instant::now();
    loop {
        let mut stream = desk.client().inbox_stream().await?;
        out.note(&format!(
            "{}: live inbox open, waiting for reports",
            desk.unit_id()
        ));
        loop {
            let next = if once && !received.is_empty() {
                // The first report came: take what arrived with it, then stop.
                match tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
                    Ok(next) => next,
                    Err(_) => return out.json_only(&received),
                }
            } else if once {
                let left = wait.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => bail!("no report arrived within {} s", wait.as_secs()),
                }
            } else {
                tokio::select! {
                    next = stream.next() => next,
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            };
            match next {
                Ok(Some(InboxEvent::Report(delivery))) => {
                    received.push(take(desk, &delivery, wait, out).await?);
                }
                Ok(Some(InboxEvent::Message { case_id, seq })) => {
                    if let Some(record) = desk.report_for_case(case_id)? {
                        let messages = desk.sync_messages(&record.report_id.to_string()).await?;
                        let text = messages
                            .iter()
                            .rev()
                            .find(|m| m.seq == seq)
                            .map(|m| conversation(std::slice::from_ref(m)))
                            .unwrap_or_default();
                        out.line(&format!(
                            "follow-up in the case of report {}:\n{text}",
                            record.report_id
                        ));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.note(&format!("the live inbox broke off ({e}); reconnecting"));
                    break;
                }
            }
        }
        if once && !received.is_empty() {
            return out.json_only(&received);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Receives one delivery, waiting (bounded) for attachments still uploading, and shows it.
async fn take(
    desk: &Desk,
    delivery: &Delivery,
    wait: Duration,
    out: &Output,
) -> anyhow::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut received: Received = desk.receive(delivery).await?;
    while !received.pending.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        received = desk.retry_attachments(delivery.report_id).await?;
    }
    let record = &received.record;
    out.line(&describe(record));
    if !received.pending.is_empty() {
        out.line(&format!(
            "  attachments {:?} are still uploading: not acknowledged, it comes again",
            received.pending
        ));
    } else {
        out.line("  acknowledged: stored at this desk, the server will not deliver it again");
    }
    out.line("");
    let mut value = record_json(record);
    value["first_time"] = json!(received.first_time);
    value["pending"] = json!(received.pending);
    value["delivery_count"] = json!(delivery.delivery_count);
    Ok(value)
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

fn summary_json(record: &ReportRecord) -> serde_json::Value {
    json!({
        "report_id": record.report_id.to_string(),
        "case_id": record.case_id.to_string(),
        "received_at": record.received_at,
        "status": record.status.name(),
        "category": record.report.category,
        "acked": record.acked,
        "transferred_to": record.transfer.as_ref().filter(|t| t.done).map(|t| t.to_unit.clone()),
    })
}

fn record_json(record: &ReportRecord) -> serde_json::Value {
    let mut value = summary_json(record);
    value["report"] = json!(record.report);
    value["attachments"] = json!(record
        .report
        .attachments
        .iter()
        .zip(&record.attachments)
        .map(|(info, state)| json!({
            "index": info.index,
            "name": info.name,
            "media_type": info.media_type,
            "size": info.size,
            "sha256": hex::encode(info.sha256),
            "state": state,
            "verified": *state == AttachmentState::Saved,
        }))
        .collect::<Vec<_>>());
    value
}

/// A report as a desk officer reads it.
pub fn describe(record: &ReportRecord) -> String {
    let r = &record.report;
    let mut s = format!(
        "report {} · case {} · received {} · status {}\n",
        record.report_id,
        record.case_id,
        record.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
        record.status.name()
    );
    s.push_str(&format!("  category {} · language {}\n", r.category, r.language));
    s.push_str(&format!("  text: {}\n", r.text));
    match &r.when {
        Some(When::Exact { at }) => s.push_str(&format!("  when: {}\n", at.format("%Y-%m-%d %H:%M UTC"))),
        Some(When::Between { from, to }) => s.push_str(&format!(
            "  when: between {} and {}\n",
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M UTC")
        )),
        None => {}
    }
    match &r.place {
        Some(Place::Blurred {
            latitude,
            longitude,
            precision,
        }) => s.push_str(&format!(
            "  where: {latitude:.5}, {longitude:.5} (blurred to {precision:?})\n"
        )),
        Some(Place::Described { text }) => s.push_str(&format!("  where: {text}\n")),
        None => {}
    }
    for person in &r.people {
        s.push_str(&format!(
            "  person: {}{}\n",
            person
                .name
                .as_deref()
                .map(|n| format!("{n}: "))
                .unwrap_or_default(),
            person.description
        ));
    }
    if let Some(contact) = &r.contact {
        let parts: Vec<&str> = [&contact.name, &contact.phone, &contact.email]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        s.push_str(&format!("  contact: {}\n", parts.join(", ")));
    }
    for (info, state) in r.attachments.iter().zip(&record.attachments) {
        let state = match state {
            AttachmentState::Saved => "saved, SHA-256 verified".to_owned(),
            AttachmentState::Pending => "still uploading".to_owned(),
            AttachmentState::Invalid { reason } => format!("refused: {reason}"),
        };
        s.push_str(&format!(
            "  attachment {}: {} ({}, {} bytes) — {state}\n",
            info.index, info.name, info.media_type, info.size
        ));
    }
    if let Some(t) = &record.transfer {
        s.push_str(&format!(
            "  transferred to {} at {}{}\n",
            t.to_unit,
            t.at.format("%Y-%m-%d %H:%M UTC"),
            if t.done {
                ""
            } else {
                " (uploads unfinished: run transfer again)"
            }
        ));
    }
    s.trim_end().to_owned()
}

/// A conversation, one line per message.
pub fn conversation(messages: &[MessageRecord]) -> String {
    if messages.is_empty() {
        return "no messages in this case yet".into();
    }
    messages
        .iter()
        .map(|m| {
            let who = if m.from_reporter {
                "reporter"
            } else {
                m.unit_id.as_str()
            };
            let when = m
                .sent_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into());
            let text = m.text.clone().unwrap_or_else(|| {
                if m.from_reporter {
                    "(sealed to another unit)".into()
                } else {
                    "(a reply sealed to the reporter)".into()
                }
            });
            format!("#{} {when} {who}: {text}", m.seq)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
