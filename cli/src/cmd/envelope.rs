//! `tipline envelope`: seal a report to a unit's public key and open an envelope with a private
//! key, so that another implementation of the protocol can be tested against this one.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use tipline_core::codename::Codename;
use tipline_core::crypto::{OsRandom, Suite};
use tipline_core::encoding::{b64, unb64, unb64_array};
use tipline_core::envelope::{open_report, seal_report_with_rng, Envelope};
use tipline_core::keys::{EncryptionPublicKey, UnitKeyFile, UnitPublicKeys};
use tipline_core::report::{Report, ReportId};

use super::{read, read_json, write};
use crate::output::Output;

#[derive(Clone, Copy, ValueEnum)]
pub enum SuiteArg {
    /// X25519, HKDF-SHA256, ChaCha20Poly1305 (suite byte 1).
    Chacha20poly1305,
    /// X25519, HKDF-SHA256, AES-128-GCM (suite byte 2).
    Aes128gcm,
}

#[derive(Subcommand)]
pub enum EnvelopeCommand {
    /// Seal a report (a JSON file in the report format) to a unit's public key.
    Seal {
        /// The report, as JSON (see `tipline envelope sample-report`).
        #[arg(long)]
        report: PathBuf,
        /// The unit's public keys as printed by `tipline unit public`, or its X25519 public key
        /// in base64url (then --unit-id is required).
        #[arg(long, allow_hyphen_values = true)]
        unit_key: String,
        /// The unit id to address (defaults to the one in the public key file).
        #[arg(long)]
        unit_id: Option<String>,
        /// The HPKE suite.
        #[arg(long, value_enum, default_value = "chacha20poly1305")]
        suite: SuiteArg,
        /// Where to write the envelope's bytes; without it, base64url goes to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Open an envelope with a unit's private key file and print the report.
    Open {
        /// The envelope: raw bytes or base64url text.
        #[arg(long = "in")]
        input: PathBuf,
        /// The unit's private key file (from `tipline unit keygen`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Print a valid sample report for a fresh case; its codename goes to stderr.
    SampleReport,
}

pub fn run(command: EnvelopeCommand, out: &Output) -> anyhow::Result<()> {
    match command {
        EnvelopeCommand::Seal {
            report,
            unit_key,
            unit_id,
            suite,
            out: path,
        } => {
            let report: Report = read_json(&report)?;
            let (unit_id, key) = resolve_unit_key(&unit_key, unit_id)?;
            let suite = match suite {
                SuiteArg::Chacha20poly1305 => Suite::X25519_CHACHA,
                SuiteArg::Aes128gcm => Suite::X25519_AES128,
            };
            let mut rng = OsRandom::new();
            let report_id = ReportId::random_with_rng(&mut rng)?;
            let sealed = seal_report_with_rng(&report, suite, &unit_id, &key, report_id, &mut rng)?;
            let bytes = sealed.envelope.to_bytes();
            let summary = json!({
                "report_id": report_id.to_string(),
                "unit_id": unit_id,
                "bytes": bytes.len(),
                "sha256": hex::encode(sealed.envelope.digest()),
            });
            match path {
                Some(path) => {
                    write(&path, &bytes, false)?;
                    out.result(
                        || {
                            format!(
                                "sealed report {report_id} for {unit_id}: {} bytes in {}",
                                bytes.len(),
                                path.display()
                            )
                        },
                        &summary,
                    )
                }
                None => {
                    out.note(&format!(
                        "sealed report {report_id} for {unit_id} ({} bytes)",
                        bytes.len()
                    ));
                    crate::output::print(&b64(&bytes));
                    Ok(())
                }
            }
        }
        EnvelopeCommand::Open { input, key } => {
            let raw = read(&input)?;
            let bytes = decode_envelope(&raw)?;
            let envelope = Envelope::from_bytes(&bytes).context("not a valid envelope")?;
            let keys: UnitKeyFile = read_json(&key).context("reading the unit key file")?;
            let opened = open_report(&envelope, &keys.unit_id, &keys.encryption_key())
                .context("cannot open this envelope with that key")?;
            let value = json!({ "report_id": opened.report_id.to_string(), "report": opened.report });
            out.result(
                || serde_json::to_string_pretty(&value).unwrap_or_default(),
                &value,
            )
        }
        EnvelopeCommand::SampleReport => {
            let codename = Codename::generate()?;
            let case = codename.derive()?;
            let report = Report {
                category: "radicalisation".into(),
                text: "A young man at the youth club shows others IS videos and talks about travelling to Syria."
                    .into(),
                when: None,
                place: None,
                people: vec![],
                contact: None,
                language: "en".into(),
                attachments: vec![],
                case_id: case.case_id,
                reply_key: case.reply_key.public_key(),
            };
            out.note(&format!(
                "codename of this case: {}",
                codename.to_phrase().as_str()
            ));
            crate::output::print(&serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

/// Accepts a public key file from `tipline unit public` or a bare base64url X25519 key.
fn resolve_unit_key(arg: &str, unit_id: Option<String>) -> anyhow::Result<(String, EncryptionPublicKey)> {
    let path = std::path::Path::new(arg);
    if path.exists() {
        let public: UnitPublicKeys = read_json(path)?;
        return Ok((unit_id.unwrap_or(public.unit_id), public.encryption_key));
    }
    let key = unb64_array::<32>(arg)
        .map(EncryptionPublicKey)
        .map_err(|_| anyhow::anyhow!("--unit-key is neither a file nor a base64url X25519 public key"))?;
    let Some(unit_id) = unit_id else {
        bail!("--unit-id is required with a bare public key")
    };
    Ok((unit_id, key))
}

/// Envelopes start with version byte 1; anything else is taken as base64url text.
fn decode_envelope(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    if raw.first() == Some(&1) {
        return Ok(raw.to_vec());
    }
    let text = std::str::from_utf8(raw).context("the envelope is neither bytes nor base64url text")?;
    unb64(text).context("the envelope is neither bytes nor base64url text")
}
