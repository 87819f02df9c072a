//! The client runtime that the phone apps and the desktop share: directory, outbox, delivery,
//! case book, alerts, hotlines. It owns no runtime; its `async fn`s run on the caller's tokio
//! runtime (the ffi crate's, or the desktop tool's).

pub mod cases;
pub mod check;
pub mod http;
pub mod keystore;
pub mod local;
pub mod outbox;
pub mod public;
pub mod vault;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use chrono::Utc;

use crate::directory::{SignedDirectory, VerifiedDirectory};
use crate::keys::VerifyingKey;
use crate::{Error, Result};
use http::Api;
use keystore::KeyStore;
use local::Local;
pub use outbox::{OutboxItem, OutboxListener, OutboxStatus};

/// Document names in the local store.
const DIRECTORY_DOC: &str = "directory";
const SERVER_KEY_DOC: &str = "server-key";

/// How a client is set up.
pub struct ClientConfig {
    /// Where the client keeps its files (the app's private storage).
    pub storage_dir: PathBuf,
    /// The intake server, e.g. `https://intake.example.org`.
    pub base_url: String,
    /// The authority's Ed25519 public key, pinned in the app build.
    pub authority_key: VerifyingKey,
    /// SHA-256 of the server certificate's SubjectPublicKeyInfo, to pin the TLS key.
    pub tls_pin: Option<[u8; 32]>,
    /// The platform's key store (Android Keystore, iOS Keychain).
    pub key_store: Arc<dyn KeyStore>,
    /// The bound of every call to the server ([`http::CALL_TIMEOUT`] unless a test wants less).
    pub timeout: std::time::Duration,
}

/// A citizen's client: everything a reporting app needs, on one device.
pub struct Client {
    api: Api,
    local: Local,
    authority: VerifyingKey,
    directory: RwLock<Option<Arc<VerifiedDirectory>>>,
    listener: RwLock<Option<Arc<dyn OutboxListener>>>,
    flushing: tokio::sync::Mutex<()>,
}

impl Client {
    /// Opens the client's storage and the cached directory (if it still verifies).
    pub fn open(config: ClientConfig) -> Result<Client> {
        let key = config.key_store.key("tipline local store")?;
        let local = Local::open(&config.storage_dir, &key)?;
        let client = Client {
            api: Api::new(&config.base_url, config.tls_pin, config.timeout)?,
            local,
            authority: config.authority_key,
            directory: RwLock::new(None),
            listener: RwLock::new(None),
            flushing: tokio::sync::Mutex::new(()),
        };
        if let Some(json) = client.local.document(DIRECTORY_DOC)? {
            // An expired or damaged cache is simply not used; the next refresh replaces it.
            if let Ok(verified) =
                SignedDirectory::from_json(&json).and_then(|d| d.verify(&client.authority, Utc::now(), None))
            {
                client.set_directory(verified);
            }
        }
        Ok(client)
    }

    fn set_directory(&self, directory: VerifiedDirectory) {
        *self.directory.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(directory));
    }

    /// The verified directory in use, if any (from the cache or the last refresh).
    pub fn directory(&self) -> Option<Arc<VerifiedDirectory>> {
        self.directory.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn require_directory(&self) -> Result<Arc<VerifiedDirectory>> {
        self.directory()
            .ok_or_else(|| Error::NotFound("a verified directory: refresh it first".into()))
    }

    /// Fetches the directory, checks it against the pinned authority key, its expiry and the
    /// cached version, and caches it for offline use. A directory that fails any check is
    /// refused and the cached one stays.
    pub async fn refresh_directory(&self) -> Result<Arc<VerifiedDirectory>> {
        let json = self
            .api
            .directory()
            .await?
            .ok_or_else(|| Error::NotFound("a published directory".into()))?;
        let cached_version = self.directory().map(|d| d.version());
        let verified =
            SignedDirectory::from_json(&json)?.verify(&self.authority, Utc::now(), cached_version)?;
        self.local.set_document(DIRECTORY_DOC, &json)?;
        self.set_directory(verified);
        self.require_directory()
    }

    /// Registers the listener that hears every outbox status change.
    pub fn set_listener(&self, listener: Arc<dyn OutboxListener>) {
        *self.listener.write().unwrap_or_else(|p| p.into_inner()) = Some(listener);
    }

    fn notify(&self, item: OutboxItem) {
        let listener = self.listener.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(listener) = listener {
            listener.on_change(item);
        }
    }

    /// The server's configuration and the keys its receipts must be signed with. A directory of
    /// format 2 lists them (an intake of several nodes may sign with any of them, and the device
    /// takes nothing the server says about its own keys). With a format 1 directory, the key the
    /// server announces, which must be the one this device saw first: a server that later
    /// announces another key is refused, so a swapped server cannot issue receipts.
    async fn receipt_keys(&self) -> Result<(crate::api::ServerConfig, Vec<VerifyingKey>)> {
        let config = self.api.config().await?;
        if let Some(intake) = self.directory().as_deref().and_then(|d| d.intake()) {
            return Ok((config, intake.receipt_keys.clone()));
        }
        let announced = config.receipt_key()?;
        match self.local.document(SERVER_KEY_DOC)? {
            Some(kept) if kept != announced.0 => Err(Error::refused(
                "receipt",
                "the server announces another receipt key than before",
            )),
            Some(_) => Ok((config, vec![announced])),
            None => {
                self.local.set_document(SERVER_KEY_DOC, &announced.0)?;
                Ok((config, vec![announced]))
            }
        }
    }
}
