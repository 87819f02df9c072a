//! `tipline unit`: a unit's key pairs.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use tipline_core::keys::{UnitKeyFile, UnitPublicKeys};

use super::{read_json, write};
use crate::output::Output;

#[derive(Subcommand)]
pub enum UnitCommand {
    /// Create a unit's X25519 and Ed25519 key pairs in a private key file (mode 0600).
    Keygen {
        /// The unit's id in the directory (a-z, 0-9, -).
        #[arg(long)]
        unit_id: String,
        /// Where to write the private key file.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the public part of a unit's keys, for the authority's directory.
    Public {
        /// The unit's private key file.
        #[arg(long)]
        key: PathBuf,
    },
}

pub fn run(command: UnitCommand, out: &Output) -> anyhow::Result<()> {
    match command {
        UnitCommand::Keygen {
            unit_id,
            out: path,
            force,
        } => {
            if path.exists() && !force {
                bail!(
                    "{} exists; pass --force to replace it (the old keys are lost)",
                    path.display()
                );
            }
            let keys = UnitKeyFile::generate(&unit_id)?;
            write(&path, serde_json::to_string_pretty(&keys)?.as_bytes(), true)?;
            let public = keys.public()?;
            out.note(&format!(
                "wrote the private keys of {unit_id} to {}",
                path.display()
            ));
            print_public(&public, out)
        }
        UnitCommand::Public { key } => {
            let keys: UnitKeyFile = read_json(&key).context("reading the unit key file")?;
            print_public(&keys.public()?, out)
        }
    }
}

fn print_public(public: &UnitPublicKeys, out: &Output) -> anyhow::Result<()> {
    out.result(
        || serde_json::to_string_pretty(public).unwrap_or_default(),
        public,
    )
}
