//! `tipline desk`: a unit's desk. It logs in with the unit's key file, keeps what it receives in
//! a store encrypted under a passphrase, and holds the live inbox.
//!
//! This file holds the commands and what they share; `inbox.rs` receives reports, `show.rs` puts
//! them in words and JSON, `export.rs` writes attachments out.

mod export;
mod inbox;
mod show;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use tipline_core::alert::{Alert, Severity};
use tipline_core::client::http::CALL_TIMEOUT;
use tipline_core::desk::{Desk, DeskClient, DeskStore, KdfParams, Status};
use tipline_core::directory::{SignedDirectory, VerifiedDirectory};
use tipline_core::message::CaseStatus;
use tipline_core::report::MessageId;

use super::{explain, parse_public_key, read_unit_keys};
use crate::output::Output;
use export::export;
use inbox::{follow_inbox, pull_inbox};
use show::{conversation, describe, list, record_json, summary_json};

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
    /// Tell the reporter where the case stands (received, in_progress or closed), in the words
    /// of `--text` (signed by the unit, sealed to the reporter).
    Notice {
        report: String,
        status: String,
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
            out.result(|| list(&reports, &unit_id), &rows)
        }
        DeskCommand::Show { report } => {
            let record = desk.find(&report)?;
            out.result(|| describe(&record), &record_json(&record))
        }
        DeskCommand::Export { report, out: dir } => export(&desk, &report, &dir, out),
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
        DeskCommand::Notice { report, status, text } => {
            need_server()?;
            let status = CaseStatus::parse(&status)?;
            let message = desk.send_notice(&report, status, &text).await.map_err(net)?;
            out.result(
                || {
                    format!(
                        "told the reporter the case is {} (message {}, position {})",
                        status.name(),
                        message.message_id,
                        message.seq
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
