//! `tipline authority`: the authority's key, and the directory it signs, publishes and checks.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{Duration, Utc};
use clap::Subcommand;
use serde_json::json;
use tipline_core::client::http::{Api, CALL_TIMEOUT};
use tipline_core::directory::{
    sample_source, DirectorySource, Intake, SignedDirectory, VerifiedDirectory, DIRECTORY_FORMAT,
};
use tipline_core::encoding::{b64, unb64};
use tipline_core::keys::{SigningKey, UnitPublicKeys};

use super::{explain, parse_public_key, read, read_json, read_signing_key, write};
use crate::output::Output;

#[derive(Subcommand)]
pub enum AuthorityCommand {
    /// Create the authority's Ed25519 key (mode 0600) and print its public key.
    Keygen {
        /// Where to write the private key (base64url, one line).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the sample directory source (Spanish and Danish units, hotlines, categories).
    SampleSource,
    /// Sign a directory from a readable source file.
    Sign {
        /// The source: units, hotlines and categories (see `tipline authority sample-source`).
        #[arg(long)]
        source: PathBuf,
        /// The authority's private key file.
        #[arg(long)]
        key: PathBuf,
        /// The directory's version; must be higher than the published one.
        #[arg(long)]
        version: u64,
        /// Days until devices refuse it.
        #[arg(long, default_value_t = 365)]
        valid_days: i64,
        /// A unit's public keys (from `tipline unit public`), filled into the source; repeatable.
        #[arg(long)]
        unit_pub: Vec<PathBuf>,
        /// The intake's receipt key (base64url, or a file holding it; `server_key` in the
        /// server's `/v1/config`); repeatable, two while a key is rotated. Makes the directory
        /// format 2, which apps check receipts against.
        #[arg(long, allow_hyphen_values = true)]
        receipt_key: Vec<String>,
        /// An Oblivious HTTP key configuration of the intake's gateway (base64url, or a file
        /// holding it); repeatable. Format 2 only.
        #[arg(long, allow_hyphen_values = true)]
        gateway_key: Vec<String>,
        /// An Oblivious HTTP relay in front of the intake (an https:// URL); repeatable. Format 2
        /// only.
        #[arg(long)]
        relay: Vec<String>,
        /// Where to write the signed directory.
        #[arg(long)]
        out: PathBuf,
        /// Also write a format 1 copy (without the intake section) here, for apps that read only
        /// format 1; publish both.
        #[arg(long)]
        format_1_out: Option<PathBuf>,
    },
    /// Publish a signed directory to an intake server.
    Publish {
        /// The intake server, e.g. https://intake.example.org.
        #[arg(long, env = "TIPLINE_SERVER")]
        server: String,
        /// The signed directory file; repeatable (a format 2 directory and its format 1 copy).
        #[arg(long, required = true)]
        signed: Vec<PathBuf>,
    },
    /// Check a directory's signature and show its units, hotlines and categories.
    Show {
        /// Fetch it from this intake server...
        #[arg(long, env = "TIPLINE_SERVER", conflicts_with = "file")]
        server: Option<String>,
        /// ...or read it from this file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The authority's public key (base64url, or a file holding it).
        #[arg(long, env = "TIPLINE_AUTHORITY_PUB", allow_hyphen_values = true)]
        authority_pub: String,
    },
}

pub async fn run(command: AuthorityCommand, out: &Output) -> anyhow::Result<()> {
    match command {
        AuthorityCommand::Keygen { out: path, force } => {
            if path.exists() && !force {
                bail!(
                    "{} exists; pass --force to replace it (directories signed with the old key \
                     will no longer verify)",
                    path.display()
                );
            }
            let key = SigningKey::generate()?;
            let text = zeroize::Zeroizing::new(format!("{}\n", b64(key.to_seed().as_ref())));
            write(&path, text.as_bytes(), true)?;
            let public = b64(&key.verifying_key().0);
            out.note(&format!(
                "wrote the authority's private key to {}; keep it offline",
                path.display()
            ));
            out.result(
                || public.clone(),
                &json!({ "public_key": public, "key_id": key.verifying_key().key_id().to_string() }),
            )
        }
        AuthorityCommand::SampleSource => {
            crate::output::print(&serde_json::to_string_pretty(&sample_source()?)?);
            Ok(())
        }
        AuthorityCommand::Sign {
            source,
            key,
            version,
            valid_days,
            unit_pub,
            receipt_key,
            gateway_key,
            relay,
            out: path,
            format_1_out,
        } => {
            let mut source: DirectorySource = read_json(&source)?;
            for file in &unit_pub {
                let public: UnitPublicKeys = read_json(file)?;
                source
                    .set_unit_keys(&public.unit_id, public.encryption_key, public.verifying_key)
                    .with_context(|| format!("{}: the source has no such unit", file.display()))?;
            }
            set_intake(&mut source, &receipt_key, &gateway_key, relay)?;
            let authority = read_signing_key(&key)?;
            let body = source.into_body(version, Utc::now(), Duration::days(valid_days))?;
            let signed = body.sign(&authority)?;
            let verified = signed.verify(&authority.verifying_key(), Utc::now(), None)?;
            write(&path, signed.to_json()?.as_bytes(), false)?;
            if let Some(copy) = &format_1_out {
                let signed = body.to_format_1().sign(&authority)?;
                write(copy, signed.to_json()?.as_bytes(), false)?;
            }
            out.result(
                || {
                    format!(
                        "signed directory v{version} format {} ({} units, {} hotlines, {} categories), valid until {}, in {}{}",
                        verified.format(),
                        verified.units().len(),
                        verified.hotlines().len(),
                        verified.categories().len(),
                        verified.expires_at().format("%Y-%m-%d"),
                        path.display(),
                        format_1_out
                            .as_ref()
                            .map(|copy| format!(", and its format 1 copy in {}", copy.display()))
                            .unwrap_or_default()
                    )
                },
                &json!({
                    "version": version,
                    "format": verified.format(),
                    "units": verified.units().len(),
                    "expires_at": verified.expires_at(),
                    "file": path,
                    "format_1_file": format_1_out,
                }),
            )
        }
        AuthorityCommand::Publish { server, signed } => {
            let api = Api::new(&server, None, CALL_TIMEOUT)?;
            let mut version = 0;
            for file in &signed {
                let directory = SignedDirectory::from_json(&read(file)?)
                    .with_context(|| format!("{} is not a signed directory", file.display()))?;
                version = tipline_core::desk::publish_directory(&api, &directory)
                    .await
                    .map_err(|e| explain(&server, e))
                    .with_context(|| format!("publishing {}", file.display()))?;
            }
            out.result(
                || format!("published directory v{version} to {server}"),
                &json!({ "version": version, "server": server }),
            )
        }
        AuthorityCommand::Show {
            server,
            file,
            authority_pub,
        } => {
            let authority = parse_public_key(&authority_pub)?;
            let (json, from) = match (server, file) {
                (_, Some(file)) => (read(&file)?, file.display().to_string()),
                (Some(server), None) => {
                    let api = Api::new(&server, None, CALL_TIMEOUT)?;
                    let json = api
                        .directory()
                        .await
                        .map_err(|e| explain(&server, e.into()))?
                        .with_context(|| format!("{server} has no directory published yet"))?;
                    (json, server)
                }
                (None, None) => bail!("give --server or --file"),
            };
            let verified = SignedDirectory::from_json(&json)
                .and_then(|d| d.verify(&authority, Utc::now(), None))
                .with_context(|| format!("the directory from {from} does not verify"))?;
            show(&verified, &from, out)
        }
    }
}

fn name(map: &std::collections::BTreeMap<String, String>) -> &str {
    map.get("en")
        .or_else(|| map.values().next())
        .map(String::as_str)
        .unwrap_or_default()
}

fn show(directory: &VerifiedDirectory, from: &str, out: &Output) -> anyhow::Result<()> {
    let text = || {
        let mut s = format!(
            "directory v{} (format {}) from {from}: signature verified, issued {}, valid until {}\n",
            directory.version(),
            directory.format(),
            directory.issued_at().format("%Y-%m-%d %H:%M UTC"),
            directory.expires_at().format("%Y-%m-%d %H:%M UTC")
        );
        s.push_str(&format!("units ({}):\n", directory.units().len()));
        for unit in directory.units() {
            s.push_str(&format!(
                "  {:<28} {:<40} regions {} · languages {} · key {}\n",
                unit.id,
                name(&unit.names),
                unit.regions.join(","),
                unit.languages.join(","),
                unit.encryption_key.key_id()
            ));
        }
        s.push_str(&format!("hotlines ({}):\n", directory.hotlines().len()));
        for line in directory.hotlines() {
            s.push_str(&format!(
                "  {:<28} {:<16} {} · regions {}\n",
                line.id,
                line.display,
                name(&line.names),
                line.regions.join(",")
            ));
        }
        s.push_str(&format!("categories ({}):\n", directory.categories().len()));
        for category in directory.categories() {
            s.push_str(&format!("  {:<28} {}\n", category.id, name(&category.labels)));
        }
        if let Some(intake) = directory.intake() {
            let ids: Vec<String> = intake
                .receipt_keys
                .iter()
                .map(|k| k.key_id().to_string())
                .collect();
            s.push_str(&format!(
                "intake: receipt keys {} · {} gateway key(s) · relays {}\n",
                ids.join(", "),
                intake.gateway_keys.len(),
                if intake.relays.is_empty() {
                    "none".to_owned()
                } else {
                    intake.relays.join(", ")
                }
            ));
        }
        s.trim_end().to_owned()
    };
    out.result(text, directory.body())
}

/// Fills the source's intake section from the command line (format 2), or leaves the source as it
/// is when no intake option is given.
fn set_intake(
    source: &mut DirectorySource,
    receipt_keys: &[String],
    gateway_keys: &[String],
    relays: Vec<String>,
) -> anyhow::Result<()> {
    if receipt_keys.is_empty() && gateway_keys.is_empty() && relays.is_empty() {
        return Ok(());
    }
    let mut intake = source.intake.take().unwrap_or(Intake {
        receipt_keys: Vec::new(),
        gateway_keys: Vec::new(),
        relays: Vec::new(),
    });
    if !receipt_keys.is_empty() {
        intake.receipt_keys = receipt_keys
            .iter()
            .map(|key| parse_public_key(key))
            .collect::<anyhow::Result<_>>()?;
    }
    if !gateway_keys.is_empty() {
        intake.gateway_keys = gateway_keys
            .iter()
            .map(|arg| {
                let path = std::path::Path::new(arg);
                let text = if path.is_file() {
                    String::from_utf8(read(path)?)
                        .with_context(|| format!("{} is not text", path.display()))?
                } else {
                    arg.clone()
                };
                unb64(text.trim()).map_err(|_| {
                    anyhow::anyhow!("{arg} is neither a key configuration (base64url) nor a file holding one")
                })
            })
            .collect::<anyhow::Result<_>>()?;
    }
    if !relays.is_empty() {
        intake.relays = relays;
    }
    if intake.receipt_keys.is_empty() {
        bail!("a format 2 directory names the intake's receipt keys: give --receipt-key");
    }
    source.intake = Some(intake);
    source.format = DIRECTORY_FORMAT;
    Ok(())
}
