//! `tipline authority`: the authority's key, and the directory it signs, publishes and checks.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{Duration, Utc};
use clap::Subcommand;
use serde_json::json;
use tipline_core::client::http::{Api, CALL_TIMEOUT};
use tipline_core::directory::{sample_source, DirectorySource, SignedDirectory, VerifiedDirectory};
use tipline_core::encoding::b64;
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
        /// Where to write the signed directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Publish a signed directory to an intake server.
    Publish {
        /// The intake server, e.g. https://intake.example.org.
        #[arg(long, env = "TIPLINE_SERVER")]
        server: String,
        /// The signed directory file.
        #[arg(long)]
        signed: PathBuf,
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
            out: path,
        } => {
            let mut source: DirectorySource = read_json(&source)?;
            for file in &unit_pub {
                let public: UnitPublicKeys = read_json(file)?;
                source
                    .set_unit_keys(&public.unit_id, public.encryption_key, public.verifying_key)
                    .with_context(|| format!("{}: the source has no such unit", file.display()))?;
            }
            let authority = read_signing_key(&key)?;
            let signed = source
                .into_body(version, Utc::now(), Duration::days(valid_days))?
                .sign(&authority)?;
            let verified = signed.verify(&authority.verifying_key(), Utc::now(), None)?;
            write(&path, signed.to_json()?.as_bytes(), false)?;
            out.result(
                || {
                    format!(
                        "signed directory v{version} ({} units, {} hotlines, {} categories), valid until {}, in {}",
                        verified.units().len(),
                        verified.hotlines().len(),
                        verified.categories().len(),
                        verified.expires_at().format("%Y-%m-%d"),
                        path.display()
                    )
                },
                &json!({
                    "version": version,
                    "units": verified.units().len(),
                    "expires_at": verified.expires_at(),
                    "file": path,
                }),
            )
        }
        AuthorityCommand::Publish { server, signed } => {
            let directory = SignedDirectory::from_json(&read(&signed)?)
                .with_context(|| format!("{} is not a signed directory", signed.display()))?;
            let api = Api::new(&server, None, CALL_TIMEOUT)?;
            let version = tipline_core::desk::publish_directory(&api, &directory)
                .await
                .map_err(|e| explain(&server, e))?;
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
            "directory v{} from {from}: signature verified, issued {}, valid until {}\n",
            directory.version(),
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
        s.trim_end().to_owned()
    };
    out.result(text, directory.body())
}
