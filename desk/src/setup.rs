//! Opening the unit's desk from the command line's settings: the key file, the store's
//! passphrase (from a file or the environment, never from a flag's value), the store, and the
//! intake client.

use std::path::Path;
use std::time::Duration;

use tipline_core::desk::{Desk, DeskClient, DeskStore, KdfParams};
use tipline_core::encoding::unb64_array;
use tipline_core::keys::{UnitKeyFile, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::{DeskError, Result};

/// The environment variable that may hold the store's passphrase.
pub const PASSPHRASE_ENV: &str = "TIPLINE_DESK_PASSPHRASE";

/// Timeout of every call to the intake but the live stream.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The unit's key file.
pub fn read_keys(path: &Path) -> Result<UnitKeyFile> {
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| DeskError::Config(format!("cannot read the key file {}: {e}", path.display())))?,
    );
    serde_json::from_slice(&bytes)
        .map_err(|_| DeskError::Config(format!("{} is not a unit key file", path.display())))
}

/// The store's passphrase: the first line of `file` if given, else the environment variable.
pub fn passphrase(file: Option<&Path>) -> Result<Zeroizing<String>> {
    let text = match file {
        Some(path) => Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            DeskError::Config(format!("cannot read the passphrase file {}: {e}", path.display()))
        })?),
        None => Zeroizing::new(std::env::var(PASSPHRASE_ENV).map_err(|_| {
            DeskError::Config(format!(
                "the desk store needs its passphrase: give --passphrase-file or set {PASSPHRASE_ENV}"
            ))
        })?),
    };
    let line = Zeroizing::new(text.lines().next().unwrap_or("").to_owned());
    if line.is_empty() {
        return Err(DeskError::Config("the passphrase is empty".into()));
    }
    Ok(line)
}

/// The store in `data_dir` of the unit of `keys`.
pub fn open_store(data_dir: &Path, keys: &UnitKeyFile, passphrase: &str) -> Result<DeskStore> {
    Ok(DeskStore::open(
        data_dir,
        &keys.unit_id,
        passphrase,
        KdfParams::default(),
    )?)
}

/// The unit's desk against the intake at `server`.
pub fn open_desk(store: DeskStore, keys: UnitKeyFile, server: &str) -> Result<Desk> {
    let client = DeskClient::new(server, None, CALL_TIMEOUT, &keys)?;
    Ok(Desk::new(client, store, keys)?)
}

/// The authority's public key, given as base64url text or as a file that holds it.
pub fn authority_key(arg: &str) -> Result<VerifyingKey> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path)?
    } else {
        arg.to_owned()
    };
    let bytes = unb64_array::<32>(text.trim()).map_err(|_| {
        DeskError::Config(format!(
            "{arg} is neither a public key (32 bytes, base64url) nor a file holding one"
        ))
    })?;
    Ok(VerifyingKey(bytes))
}
