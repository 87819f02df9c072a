//! Keys that protect what the core keeps on the device come from the platform: Android Keystore
//! or iOS Keychain hold them, the app implements [`KeyStore`] over them. Tests and the desktop
//! tool use [`StaticKeyStore`] or [`FileKeyStore`].

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::crypto::random::random_array;
use crate::crypto::{kdf, OsRandom};
use crate::{Error, Result};

/// A place to keep 32-byte secret keys, implemented by the platform.
pub trait KeyStore: Send + Sync {
    /// The key called `name`, created and kept on first use. The same name must always give
    /// the same key on this device.
    fn key(&self, name: &str) -> Result<Zeroizing<[u8; 32]>>;
}

/// Derives every named key from one fixed secret: for tests and for desktops that keep the
/// secret elsewhere.
pub struct StaticKeyStore(Zeroizing<[u8; 32]>);

impl StaticKeyStore {
    /// A store whose keys all derive from `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        StaticKeyStore(Zeroizing::new(secret))
    }
}

impl KeyStore for StaticKeyStore {
    fn key(&self, name: &str) -> Result<Zeroizing<[u8; 32]>> {
        let prk = kdf::extract(b"tipline key store v1", &[self.0.as_ref()]);
        let mut out = Zeroizing::new([0u8; 32]);
        kdf::expand(&prk, &[name.as_bytes()], out.as_mut())?;
        Ok(out)
    }
}

/// Keeps a random master secret in a file readable only by its owner (mode 0600), for the
/// desktop tool's citizen mode.
pub struct FileKeyStore {
    path: PathBuf,
}

impl FileKeyStore {
    /// A store backed by the file at `path` (created on first use).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKeyStore { path: path.into() }
    }

    fn master(&self) -> Result<Zeroizing<[u8; 32]>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let secret: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| Error::invalid("key store", "the key file is damaged"))?;
                Ok(Zeroizing::new(secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = Zeroizing::new(random_array::<32>(&mut OsRandom::new())?);
                if let Some(dir) = self.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&self.path)?;
                std::io::Write::write_all(&mut file, secret.as_ref())?;
                file.sync_all()?;
                Ok(secret)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl KeyStore for FileKeyStore {
    fn key(&self, name: &str) -> Result<Zeroizing<[u8; 32]>> {
        StaticKeyStore(self.master()?).key(name)
    }
}
