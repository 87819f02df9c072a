//! `--dev`: a ready-to-try setup in the data directory, so that a developer can run the server
//! and a desk without first playing the authority. On first start it creates an authority key
//! pair, keys for every unit of the sample directory (`units/<unit-id>.key`, the same JSON the
//! desk tool reads), and publishes directory v1 signed by that authority. Later starts reuse
//! what exists and fill in only what is missing.
//!
//! Never for production: the authority's private key sits next to the server.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use tipline_core::directory::{sample_source, Intake, DIRECTORY_FORMAT};
use tipline_core::encoding::b64;
use tipline_core::keys::{SigningKey, UnitKeyFile, VerifyingKey};

use crate::config::{
    read_signing_key, read_verifying_key, write_private, write_signing_key, AUTHORITY_PUB_FILE,
};
use crate::store::Store;

/// The authority's private key, in the data directory (dev only).
pub const AUTHORITY_KEY_FILE: &str = "authority.key";
/// The folder of the units' key files, in the data directory (dev only).
pub const UNITS_DIR: &str = "units";
/// How long the dev directory stays valid.
const VALIDITY_DAYS: i64 = 365;

/// What the dev setup found or made.
#[derive(Debug)]
pub struct DevSetup {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Whether anything was created now (else everything was reused).
    pub created: bool,
    /// The authority's public key.
    pub authority: VerifyingKey,
    /// The unit ids with a key file, in directory order.
    pub units: Vec<String>,
    /// The version of the directory published now, if one was.
    pub published: Option<u64>,
}

/// The key file of unit `unit_id`.
pub fn unit_key_path(data_dir: &Path, unit_id: &str) -> PathBuf {
    data_dir.join(UNITS_DIR).join(format!("{unit_id}.key"))
}

fn authority(data_dir: &Path, created: &mut bool) -> anyhow::Result<(Option<SigningKey>, VerifyingKey)> {
    let key_path = data_dir.join(AUTHORITY_KEY_FILE);
    let pub_path = data_dir.join(AUTHORITY_PUB_FILE);
    if key_path.exists() {
        let key = read_signing_key(&key_path)?;
        let public = key.verifying_key();
        if !pub_path.exists() {
            std::fs::write(&pub_path, format!("{}\n", b64(&public.0)))
                .with_context(|| format!("cannot write {}", pub_path.display()))?;
            *created = true;
        }
        return Ok((Some(key), public));
    }
    if pub_path.exists() {
        // An authority set up outside dev mode: nothing to sign with, nothing to change.
        return Ok((None, read_verifying_key(&pub_path)?));
    }
    let key =
        SigningKey::generate().map_err(|e| anyhow::anyhow!("cannot generate the authority key: {e}"))?;
    write_signing_key(&key_path, &key)?;
    let public = key.verifying_key();
    std::fs::write(&pub_path, format!("{}\n", b64(&public.0)))
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    *created = true;
    Ok((Some(key), public))
}

fn unit_keys(data_dir: &Path, unit_id: &str, created: &mut bool) -> anyhow::Result<UnitKeyFile> {
    let path = unit_key_path(data_dir, unit_id);
    if path.exists() {
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
        );
        return serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a unit key file", path.display()));
    }
    let keys = UnitKeyFile::generate(unit_id)?;
    let json = zeroize::Zeroizing::new(serde_json::to_vec_pretty(&keys)?);
    write_private(&path, &json).with_context(|| format!("cannot create {}", path.display()))?;
    *created = true;
    Ok(keys)
}

/// Prepares (or reuses) the dev setup in `data_dir` and publishes the directory if the store
/// has none: format 2, naming the server's `receipt_key`, and its format 1 copy.
pub async fn prepare(
    data_dir: &Path,
    store: &dyn Store,
    receipt_key: VerifyingKey,
    now: DateTime<Utc>,
) -> anyhow::Result<DevSetup> {
    let mut created = false;
    std::fs::create_dir_all(data_dir.join(UNITS_DIR))
        .with_context(|| format!("cannot create {}", data_dir.join(UNITS_DIR).display()))?;
    let (signer, authority) = authority(data_dir, &mut created)?;
    let mut source = sample_source()?;
    let mut units = Vec::new();
    for unit_id in source.units.iter().map(|u| u.id.clone()).collect::<Vec<_>>() {
        let keys = unit_keys(data_dir, &unit_id, &mut created)?;
        let public = keys
            .public()
            .map_err(|e| anyhow::anyhow!("unit {unit_id}: {e}"))?;
        source.set_unit_keys(&unit_id, public.encryption_key, public.verifying_key)?;
        units.push(unit_id);
    }
    source.format = DIRECTORY_FORMAT;
    source.intake = Some(Intake {
        receipt_keys: vec![receipt_key],
        gateway_keys: Vec::new(),
        relays: Vec::new(),
    });
    let mut published = None;
    if let (Some(signer), None) = (signer, store.directory(DIRECTORY_FORMAT).await?) {
        let body = source.into_body(1, now, Duration::days(VALIDITY_DAYS))?;
        let version = body.version;
        for signed in [body.to_format_1().sign(&signer)?, body.sign(&signer)?] {
            let format = signed.verify(&signer.verifying_key(), now, None)?.format();
            if store
                .publish_directory(format, version, signed.to_json()?.into_bytes())
                .await?
            {
                published = Some(version);
                created = true;
            }
        }
    }
    Ok(DevSetup {
        data_dir: data_dir.to_owned(),
        created,
        authority,
        units,
        published,
    })
}

impl DevSetup {
    /// What to tell the developer once the server listens on `url`.
    pub fn instructions(&self, url: &str) -> String {
        let dir = self.data_dir.display();
        let first = self.units.first().map(String::as_str).unwrap_or("<unit-id>");
        let mut out = String::new();
        out.push_str(&format!(
            "Tipline dev setup in {dir} ({})\n",
            if self.created { "created now" } else { "reused" }
        ));
        out.push_str(&format!(
            "  authority      {dir}/{AUTHORITY_KEY_FILE} (private), {dir}/{AUTHORITY_PUB_FILE} = {}\n",
            b64(&self.authority.0)
        ));
        if let Some(version) = self.published {
            out.push_str(&format!(
                "  directory      v{version} published, signed by that authority\n"
            ));
        }
        out.push_str(&format!(
            "  unit keys      {dir}/{UNITS_DIR}/<unit-id>.key (private) for:\n"
        ));
        for unit in &self.units {
            out.push_str(&format!("                   {unit}\n"));
        }
        out.push_str(&format!(
            "  server         listening on {url} (API under /v1, OpenAPI at {url}/v1/openapi.json)\n"
        ));
        out.push_str("Next:\n");
        out.push_str(&format!("  curl {url}/v1/config\n"));
        out.push_str(&format!(
            "  a desk logs in with units/<unit-id>.key, e.g. {dir}/{UNITS_DIR}/{first}.key, against {url} \
             (see `tipline --help` for the desk commands)\n"
        ));
        out.push_str(&format!(
            "  a citizen client fetches {url}/v1/directory and pins {dir}/{AUTHORITY_PUB_FILE}\n"
        ));
        out.push_str(
            "Dev mode only: the authority's private key must never sit next to a production server.\n",
        );
        out
    }
}
