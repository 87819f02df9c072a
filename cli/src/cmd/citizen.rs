//! `tipline citizen`: the citizen's app on the desktop, for developers testing the core: file a
//! report (from flags or prompts) with attachments and a progress bar, see the outbox, follow a
//! case by its codename, read alerts and hotlines. Everything goes through the core's `Client`,
//! exactly as on a phone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use tipline_core::client::http::CALL_TIMEOUT;
use tipline_core::client::keystore::FileKeyStore;
use tipline_core::client::{Client, ClientConfig, OutboxItem, OutboxListener, OutboxStatus};
use tipline_core::codename::Codename;
use tipline_core::compose::{Draft, DraftAttachment, DraftPlace};
use tipline_core::l10n::{Language, Localizer};
use tipline_core::report::{Person, Precision, When};

use super::{explain, parse_public_key};
use crate::output::Output;

#[derive(Args)]
pub struct CitizenArgs {
    /// The intake server, e.g. https://intake.example.org.
    #[arg(long, env = "TIPLINE_SERVER")]
    server: String,
    /// The authority's public key the app pins (base64url, or a file holding it).
    #[arg(long, env = "TIPLINE_AUTHORITY_PUB", allow_hyphen_values = true)]
    authority_pub: String,
    /// The device's storage (a folder: outbox, case book, cached directory).
    #[arg(long, env = "TIPLINE_CITIZEN_STORE")]
    store: PathBuf,
    #[command(subcommand)]
    command: CitizenCommand,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    Street,
    Neighbourhood,
    Town,
    Region,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Ask for each field instead of reading flags.
    #[arg(long)]
    interactive: bool,
    /// The reporter's region (ISO 3166, e.g. DK-84): picks the unit.
    #[arg(long)]
    region: Option<String>,
    /// A unit chosen by id instead of by region.
    #[arg(long)]
    unit: Option<String>,
    /// A category id from the directory (e.g. radicalisation).
    #[arg(long)]
    category: Option<String>,
    /// What happened.
    #[arg(long)]
    text: Option<String>,
    /// When: an RFC 3339 time, or FROM/TO.
    #[arg(long)]
    when: Option<String>,
    /// Where, in words.
    #[arg(long, conflicts_with_all = ["lat", "lon"])]
    place_text: Option<String>,
    /// Where: latitude (blurred on the device before anything is stored).
    #[arg(long, requires = "lon", allow_hyphen_values = true)]
    lat: Option<f64>,
    /// Where: longitude.
    #[arg(long, requires = "lat", allow_hyphen_values = true)]
    lon: Option<f64>,
    /// How much the position is blurred.
    #[arg(long, value_enum, default_value = "neighbourhood")]
    precision: PrecisionArg,
    /// A person involved: "DESCRIPTION" or "NAME: DESCRIPTION"; repeatable.
    #[arg(long)]
    person: Vec<String>,
    /// The report's language (da, es, en, ar...).
    #[arg(long, default_value = "en")]
    language: String,
    /// A file to attach (photos lose their metadata on the device); repeatable.
    #[arg(long)]
    attach: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub enum CitizenCommand {
    /// File a report: sealed on the device at once, then sent with a progress bar.
    Report(Box<ReportArgs>),
    /// The outbox: every report of this device and where it stands.
    Outbox {
        /// Try now to send what is waiting.
        #[arg(long)]
        flush: bool,
    },
    /// Read a case by its codename (on any device), and optionally answer the unit.
    Case {
        /// The eight words shown when the report was filed.
        #[arg(long)]
        codename: String,
        /// A follow-up to send to the unit.
        #[arg(long)]
        say: Option<String>,
    },
    /// The alerts for a region, each checked against the unit's key in the directory.
    Alerts {
        #[arg(long)]
        region: String,
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// The hotlines for a region, open now or not, in their own time zone.
    Hotlines {
        #[arg(long)]
        region: String,
        #[arg(long, default_value = "en")]
        language: String,
    },
}

fn language(tag: &str) -> Language {
    Language::from_tag(tag).unwrap_or(Language::English)
}

/// Opens the device's client and brings its directory up to date (or keeps the cached one
/// when the server cannot be reached, saying so).
async fn open(args: &CitizenArgs, out: &Output) -> anyhow::Result<Arc<Client>> {
    let client = Client::open(ClientConfig {
        storage_dir: args.store.clone(),
        base_url: args.server.clone(),
        authority_key: parse_public_key(&args.authority_pub)?,
        tls_pin: None,
        key_store: Arc::new(FileKeyStore::new(args.store.join("device.key"))),
        timeout: CALL_TIMEOUT,
        oblivious: None,
        local_address: None,
    })
    .with_context(|| format!("citizen store {}", args.store.display()))?;
    if let Err(e) = client.refresh_directory().await {
        let e = explain(&args.server, e);
        if client.directory().is_none() {
            return Err(e.context("no verified directory on this device"));
        }
        out.note(&format!("using the cached directory: {e:#}"));
    }
    Ok(Arc::new(client))
}

pub async fn run(args: CitizenArgs, out: &Output) -> anyhow::Result<()> {
    let client = open(&args, out).await?;
    let url = args.server.clone();
    match args.command {
        CitizenCommand::Report(report) => file(&client, *report, &url, out).await,
        CitizenCommand::Outbox { flush } => {
            if flush {
                send(&client, out).await.map_err(|e| explain(&url, e))?;
            }
            let items = client.outbox()?;
            let rows: Vec<_> = items.iter().map(item_json).collect();
            out.result(
                || {
                    if items.is_empty() {
                        return "the outbox is empty".into();
                    }
                    items.iter().map(item_line).collect::<Vec<_>>().join("\n")
                },
                &rows,
            )
        }
        CitizenCommand::Case { codename, say } => {
            let case_id = Codename::parse(&codename)?.derive()?.case_id;
            if !client.cases()?.iter().any(|c| c.case_id == case_id) {
                client
                    .recover_case(&codename)
                    .await
                    .map_err(|e| explain(&url, e))
                    .context("recovering the case from its codename")?;
                out.note("case recovered on this device from its codename");
            }
            if let Some(text) = say {
                client
                    .send_follow_up(case_id, &text)
                    .await
                    .map_err(|e| explain(&url, e))?;
                out.note("follow-up sealed to the unit and sent");
            }
            let messages = client.conversation(case_id).await.map_err(|e| explain(&url, e))?;
            out.result(
                || {
                    let mut s = format!("case {case_id}\n");
                    if messages.is_empty() {
                        s.push_str("no messages yet");
                    }
                    for m in &messages {
                        let who = if m.from_unit { m.unit_id.as_str() } else { "you" };
                        let when = m
                            .sent_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "-".into());
                        let text = m.text.as_deref().unwrap_or("(sent from another device)");
                        s.push_str(&format!("{when} {who}: {text}\n"));
                    }
                    s.trim_end().to_owned()
                },
                &json!({ "case_id": case_id.to_string(), "messages": messages }),
            )
        }
        CitizenCommand::Alerts {
            region,
            language: tag,
        } => {
            let alerts = client
                .alerts(&region, language(&tag))
                .await
                .map_err(|e| explain(&url, e))?;
            let rows: Vec<_> = alerts
                .iter()
                .map(|a| {
                    json!({
                        "alert_id": a.alert_id, "unit_id": a.unit_id, "severity": a.severity,
                        "title": a.title, "body": a.body, "expires_at": a.expires_at,
                    })
                })
                .collect();
            out.result(
                || {
                    if alerts.is_empty() {
                        return format!("no alerts for {region}");
                    }
                    alerts
                        .iter()
                        .map(|a| {
                            format!(
                                "[{}] {} — {}\n  from {}, signature verified, until {}",
                                a.severity_label,
                                a.title,
                                a.body,
                                a.unit_id,
                                a.expires_at.format("%Y-%m-%d %H:%M UTC")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                &rows,
            )
        }
        CitizenCommand::Hotlines {
            region,
            language: tag,
        } => {
            let lines = client.hotlines(&region, language(&tag), Utc::now())?;
            let rows: Vec<_> = lines
                .iter()
                .map(|h| json!({ "id": h.id, "name": h.name, "display": h.display, "dial_uri": h.dial_uri, "open_now": h.open_now, "status": h.status }))
                .collect();
            out.result(
                || {
                    if lines.is_empty() {
                        return format!("no hotlines for {region}");
                    }
                    lines
                        .iter()
                        .map(|h| format!("{}  {}  {} — {}", h.name, h.display, h.dial_uri, h.status))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                &rows,
            )
        }
    }
}

fn media_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("mp4") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("m4a") => "audio/mp4",
        Some("mp3") => "audio/mpeg",
        Some("ogg" | "opus") => "audio/ogg",
        Some("wav") => "audio/wav",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text.trim())
        .with_context(|| format!("{text:?} is not an RFC 3339 time such as 2026-11-01T18:00:00Z"))?
        .with_timezone(&Utc))
}

fn parse_when(text: &str) -> anyhow::Result<When> {
    Ok(match text.split_once('/') {
        Some((from, to)) => When::Between {
            from: parse_time(from)?,
            to: parse_time(to)?,
        },
        None => When::Exact {
            at: parse_time(text)?,
        },
    })
}

fn parse_person(text: &str) -> Person {
    match text.split_once(": ") {
        Some((name, description)) => Person {
            name: Some(name.trim().to_owned()),
            description: description.trim().to_owned(),
        },
        None => Person {
            name: None,
            description: text.trim().to_owned(),
        },
    }
}

/// Asks for the fields not given as flags.
fn prompt(client: &Client, mut args: ReportArgs) -> anyhow::Result<ReportArgs> {
    use dialoguer::{Input, Select};
    let directory = client.directory().context("no verified directory")?;
    if args.region.is_none() && args.unit.is_none() {
        args.region = Some(
            Input::new()
                .with_prompt("Your region (e.g. DK-84, ES-MD)")
                .interact_text()?,
        );
    }
    if args.category.is_none() {
        let lang = args.language.clone();
        let labels: Vec<String> = directory
            .categories()
            .iter()
            .map(|c| {
                c.labels
                    .get(&lang)
                    .or_else(|| c.labels.get("en"))
                    .cloned()
                    .unwrap_or_else(|| c.id.clone())
            })
            .collect();
        let choice = Select::new()
            .with_prompt("What is it about?")
            .items(&labels)
            .default(0)
            .interact()?;
        args.category = Some(directory.categories()[choice].id.clone());
    }
    if args.text.is_none() {
        args.text = Some(Input::new().with_prompt("What happened?").interact_text()?);
    }
    if args.place_text.is_none() && args.lat.is_none() {
        let place: String = Input::new()
            .with_prompt("Where (in words; empty to skip)")
            .allow_empty(true)
            .interact_text()?;
        args.place_text = Some(place).filter(|p| !p.trim().is_empty());
    }
    loop {
        let file: String = Input::new()
            .with_prompt("Attach a file (path; empty when done)")
            .allow_empty(true)
            .interact_text()?;
        if file.trim().is_empty() {
            break;
        }
        args.attach.push(PathBuf::from(file.trim()));
    }
    Ok(args)
}

async fn file(client: &Arc<Client>, args: ReportArgs, url: &str, out: &Output) -> anyhow::Result<()> {
    let args = if args.interactive {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("--interactive needs a terminal");
        }
        prompt(client, args)?
    } else {
        args
    };
    let place = match (args.place_text, args.lat.zip(args.lon)) {
        (Some(text), _) => Some(DraftPlace::Described { text }),
        (None, Some((latitude, longitude))) => Some(DraftPlace::Position {
            latitude,
            longitude,
            precision: match args.precision {
                PrecisionArg::Street => Precision::Street,
                PrecisionArg::Neighbourhood => Precision::Neighbourhood,
                PrecisionArg::Town => Precision::Town,
                PrecisionArg::Region => Precision::Region,
            },
        }),
        (None, None) => None,
    };
    let mut attachments = Vec::new();
    for path in &args.attach {
        // Read in chunks by the core while sealing; only its presence is checked here.
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        attachments.push(DraftAttachment {
            name: path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("attachment")
                .to_owned(),
            media_type: media_type(path).to_owned(),
            path: path.clone(),
        });
    }
    let draft = Draft {
        unit_id: args.unit,
        region: args.region,
        category: args.category.context("give --category (or --interactive)")?,
        text: args.text.context("give --text (or --interactive)")?,
        when: args.when.as_deref().map(parse_when).transpose()?,
        place,
        people: args.person.iter().map(|p| parse_person(p)).collect(),
        contact: None,
        language: args.language.clone(),
        attachments,
    };
    // As the apps do: sealing and storing run on the runtime's blocking pool.
    let filed = client
        .clone()
        .file_report_async(draft)
        .await
        .map_err(|e| match e {
            tipline_core::Error::Draft(fields) => {
                let l10n = Localizer::new(language(&args.language));
                let lines: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message(&l10n)))
                    .collect();
                anyhow::anyhow!("the report has fields to correct:\n  {}", lines.join("\n  "))
            }
            other => anyhow::Error::new(other),
        })?;
    out.note(&format!(
        "sealed report {} for {} on this device; codename (keep it, it is the only way back to the case):\n  {}",
        filed.report_id,
        filed.unit_id,
        filed.codename.as_str()
    ));
    for (i, stripped) in filed.stripped.iter().enumerate() {
        if !stripped {
            out.note(&format!(
                "attachment {i} is of a kind whose metadata the app cannot remove: sent as it is"
            ));
        }
    }
    let summary = send(client, out).await;
    let item = client
        .outbox()?
        .into_iter()
        .find(|i| i.report_id == filed.report_id)
        .context("the report is missing from the outbox")?;
    let value = json!({
        "report_id": filed.report_id.to_string(),
        "case_id": filed.case_id.to_string(),
        "unit_id": filed.unit_id,
        "codename": filed.codename.as_str(),
        "status": item_json(&item)["status"],
    });
    match (&item.status, summary) {
        (OutboxStatus::Delivered { .. }, _) => out.result(
            || {
                format!(
                    "delivered: the server's signed receipt is kept\ncodename: {}",
                    filed.codename.as_str()
                )
            },
            &value,
        ),
        (_, Err(e)) => {
            out.json_only(&value)?;
            Err(explain(url, e).context(
                "the report is saved in the outbox but could not be sent; `tipline citizen outbox --flush` tries again",
            ))
        }
        (_, Ok(_)) => {
            out.json_only(&value)?;
            bail!(
                "the report is saved in the outbox but was not delivered ({}); `tipline citizen outbox --flush` tries again",
                item_line(&item)
            )
        }
    }
}

/// Flushes the outbox with a progress bar fed by the outbox listener.
async fn send(
    client: &Client,
    out: &Output,
) -> tipline_core::Result<tipline_core::client::outbox::FlushSummary> {
    let bar = if out.is_json() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(1000)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("sending {bar:30} {percent:>3}% {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    client.set_listener(Arc::new(Progress(bar.clone())));
    let summary = client.flush().await;
    bar.finish_and_clear();
    let summary = summary?;
    // A refusal reached the item, not the call: show it.
    if summary.failed > 0 || summary.pending > 0 || summary.unverified > 0 {
        out.note(&format!(
            "delivered {}, waiting {}, refused {}, receipt not verified {}",
            summary.delivered, summary.pending, summary.failed, summary.unverified
        ));
    }
    Ok(summary)
}

struct Progress(indicatif::ProgressBar);

impl OutboxListener for Progress {
    fn on_change(&self, item: OutboxItem) {
        match item.status {
            OutboxStatus::Sending { progress } => {
                self.0.set_message(item.report_id.to_string()[..8].to_owned());
                self.0.set_position((f64::from(progress) * 1000.0) as u64);
            }
            OutboxStatus::Delivered { .. } => self.0.set_position(1000),
            _ => {}
        }
    }
}

fn status_json(status: &OutboxStatus) -> serde_json::Value {
    match status {
        OutboxStatus::Queued {
            next_attempt,
            last_error,
        } => json!({ "state": "queued", "next_attempt": next_attempt, "last_error": last_error }),
        OutboxStatus::Sending { progress } => json!({ "state": "sending", "progress": progress }),
        OutboxStatus::Delivered { received_at } => {
            json!({ "state": "delivered", "received_at": received_at })
        }
        OutboxStatus::Failed { reason, status, code } => {
            json!({ "state": "failed", "reason": reason, "status": status, "code": code })
        }
        OutboxStatus::ReceiptUnverified => json!({ "state": "receipt_unverified" }),
    }
}

fn item_json(item: &OutboxItem) -> serde_json::Value {
    json!({
        "report_id": item.report_id.to_string(),
        "unit_id": item.unit_id,
        "case_id": item.case_id.to_string(),
        "created": item.created,
        "status": status_json(&item.status),
    })
}

fn item_line(item: &OutboxItem) -> String {
    let status = match &item.status {
        OutboxStatus::Queued {
            next_attempt,
            last_error,
        } => format!(
            "queued, next attempt {}{}",
            next_attempt.format("%H:%M:%S"),
            last_error
                .as_deref()
                .map(|e| format!(" (last: {e})"))
                .unwrap_or_default()
        ),
        OutboxStatus::Sending { progress } => format!("sending {:.0}%", progress * 100.0),
        OutboxStatus::Delivered { received_at } => {
            format!("delivered {}", received_at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        OutboxStatus::Failed { status, code, .. } => format!("refused by the server ({status} {code})"),
        OutboxStatus::ReceiptUnverified => {
            "taken by the server, but its receipt does not verify (kept, not sent again)".to_owned()
        }
    };
    format!(
        "{}  {}  to {}  {status}",
        item.report_id,
        item.created.format("%Y-%m-%d %H:%M"),
        item.unit_id
    )
}
