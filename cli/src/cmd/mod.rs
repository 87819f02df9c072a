//! One module per command group, and what they share: files, keys, and turning the core's
//! network errors into sentences a person can act on.

pub mod authority;
pub mod citizen;
pub mod demo;
pub mod desk;
pub mod envelope;
pub mod photo;
pub mod unit;

use std::path::Path;

use anyhow::Context as _;
use tipline_core::client::http::NetError;
use tipline_core::encoding::unb64_array;
use tipline_core::keys::{SigningKey, UnitKeyFile, VerifyingKey};

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a file, naming it in the error; private material gets mode 0600 on Unix.
pub fn write(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Parses a JSON file, naming it in the error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))
}

/// Reads a unit's private key file.
pub fn read_unit_keys(path: &Path) -> anyhow::Result<UnitKeyFile> {
    let bytes = zeroize::Zeroizing::new(read(path)?);
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a unit key file (make one with `tipline unit keygen`)",
            path.display()
        )
    })
}

/// An Ed25519 public key given as base64url text or as a file that holds it (`authority.pub`).
pub fn parse_public_key(arg: &str) -> anyhow::Result<VerifyingKey> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        String::from_utf8(read(path)?).with_context(|| format!("{} is not text", path.display()))?
    } else {
        arg.to_owned()
    };
    let bytes = unb64_array::<32>(text.trim()).map_err(|_| {
        anyhow::anyhow!("{arg} is neither a public key (32 bytes, base64url) nor a file holding one")
    })?;
    Ok(VerifyingKey(bytes))
}

/// Reads a signing key file: the 32-byte seed in base64url on one line (`authority.key`).
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = zeroize::Zeroizing::new(read(path)?);
    let seed = zeroize::Zeroizing::new(
        std::str::from_utf8(&text)
            .ok()
            .and_then(|t| unb64_array::<32>(t.trim()).ok())
            .with_context(|| format!("{} does not hold a key (32 bytes in base64url)", path.display()))?,
    );
    SigningKey::from_seed(*seed).map_err(|_| anyhow::anyhow!("{} holds an invalid key", path.display()))
}

/// Turns a core error from a call to the server at `url` into one that says what to do.
pub fn explain(url: &str, err: tipline_core::Error) -> anyhow::Error {
    match err {
        tipline_core::Error::Network(net) => match net {
            NetError::Offline => {
                anyhow::anyhow!("cannot reach the server at {url}: is it running, and is the address right?")
            }
            NetError::Busy { retry_after } => anyhow::anyhow!(
                "the server at {url} is busy; try again{}",
                retry_after.map(|s| format!(" in {s} s")).unwrap_or_default()
            ),
            NetError::Server { status } => anyhow::anyhow!("the server at {url} failed (HTTP {status})"),
            NetError::BadAnswer(why) => anyhow::anyhow!("the server at {url} gave an unusable answer: {why}"),
            NetError::Refused { status: 401, .. } => anyhow::anyhow!(
                "the server at {url} refused this unit's signature: wrong key file (the directory \
                 lists other keys for this unit), or this computer's clock is off"
            ),
            NetError::Refused {
                status,
                code,
                message,
            } => anyhow::anyhow!("the server at {url} refused the request ({status} {code}): {message}"),
        },
        other => anyhow::Error::new(other),
    }
}
