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
pub mod transport;
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
pub use outbox::{FlushSummary, OutboxItem, OutboxListener, OutboxStatus};

/// Document names in the local store.
const DIRECTORY_DOC: &str = "directory";
const SERVER_KEY_DOC: &str = "server-key";
/// Present (empty) when the reporter chose to reach the intake directly, without a relay.
const NO_RELAY_DOC: &str = "no-relay";

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
    /// Every call through this Oblivious HTTP relay to this gateway key, so the intake never sees
    /// the device's address (unless the reporter opted out); `None`: through the relay and key
    /// the verified directory names, if it names any, else straight to the intake.
    pub oblivious: Option<transport::ObliviousConfig>,
    /// The local address to connect from (`None`: the system's choice).
    pub local_address: Option<std::net::IpAddr>,
}

fn api(config: &ClientConfig) -> Result<Api> {
    let mut api = Api::new(&config.base_url, config.tls_pin, config.timeout)?;
    if let Some(address) = config.local_address {
        let http = http::client_builder(config.tls_pin, http::CONNECT_TIMEOUT.min(config.timeout))?
            .timeout(config.timeout)
            .local_address(address)
            .build()
            .map_err(|e| Error::invalid("local address", e.to_string()))?;
        api = api.with_http_client(http);
    }
    api.with_oblivious(config.oblivious.as_ref())
}

/// A citizen's client: everything a reporting app needs, on one device.
pub struct Client {
    api: RwLock<Api>,
    explicit_oblivious: Option<transport::ObliviousConfig>,
    local: Arc<Local>,
    authority: VerifyingKey,
    directory: RwLock<Option<Arc<VerifiedDirectory>>>,
    listener: RwLock<Option<Arc<dyn OutboxListener>>>,
    flushing: tokio::sync::Mutex<()>,
}

impl Client {
    /// Opens the client's storage and the cached directory (if it still verifies).
    pub fn open(config: ClientConfig) -> Result<Client> {
        // The key store is asked when the case book is first needed, not here: it may be
        // unavailable for a while, and the outbox delivers what it can without it.
        let local = Local::open_with(&config.storage_dir, config.key_store.clone())?;
        let client = Client {
            api: RwLock::new(api(&config)?),
            explicit_oblivious: config.oblivious.clone(),
            local: Arc::new(local),
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
        client.apply_transport()?;
        Ok(client)
    }

    /// The API handle as it stands (its transport may change with the settings).
    pub(crate) fn api(&self) -> Api {
        self.api.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the reporter lets calls go through a relay (the default), as set by
    /// [`Client::set_use_relay`].
    pub fn use_relay(&self) -> Result<bool> {
        Ok(self.local.document(NO_RELAY_DOC)?.is_none())
    }

    /// The reporter's choice: through a relay when one is known (`true`, the default), or
    /// straight to the intake, which then sees the device's address (`false`). Takes effect for
    /// the next call.
    pub fn set_use_relay(&self, enabled: bool) -> Result<()> {
        if enabled {
            self.local.remove_document(NO_RELAY_DOC)?;
        } else {
            self.local.set_document(NO_RELAY_DOC, b"")?;
        }
        self.apply_transport()
    }

    /// Where calls go now: through the relay the configuration gives, or the verified
    /// directory names, unless the reporter opted out; else straight to the intake.
    fn apply_transport(&self) -> Result<()> {
        let api = self.api();
        let api = if !self.use_relay()? {
            api.with_oblivious(None)?
        } else if let Some(explicit) = &self.explicit_oblivious {
            api.with_oblivious(Some(explicit))?
        } else {
            // A relay and keys from the verified directory; keys this build cannot use (another
            // KEM, say) leave the calls direct rather than the app unable to report.
            let named = self
                .directory()
                .and_then(|d| d.intake().and_then(transport::ObliviousConfig::from_intake));
            match api.clone().with_oblivious(named.as_ref()) {
                Ok(api) => api,
                Err(_) => api.with_oblivious(None)?,
            }
        };
        *self.api.write().unwrap_or_else(|p| p.into_inner()) = api;
        Ok(())
    }

    /// Whether calls go through a relay.
    pub fn is_oblivious(&self) -> bool {
        self.api().is_oblivious()
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
            .api()
            .directory()
            .await?
            .ok_or_else(|| Error::NotFound("a published directory".into()))?;
        let cached_version = self.directory().map(|d| d.version());
        let verified =
            SignedDirectory::from_json(&json)?.verify(&self.authority, Utc::now(), cached_version)?;
        let cached = json.clone();
        self.on_disk(move |local| local.set_document(DIRECTORY_DOC, &cached))
            .await?;
        self.set_directory(verified);
        self.apply_transport()?;
        self.require_directory()
    }

    /// Runs `work` on the local store (SQLite, files) on the runtime's blocking pool, so that a
    /// slow disk does not hold one of the few async workers a phone's runtime has; inline when
    /// there is no runtime.
    pub(crate) async fn on_disk<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Local) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let local = self.local.clone();
        blocking(move || work(&local)).await?
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
        let config = self.api().config().await?;
        if let Some(intake) = self.directory().as_deref().and_then(|d| d.intake()) {
            return Ok((config, intake.receipt_keys.clone()));
        }
        let announced = config.receipt_key()?;
        match self.on_disk(|local| local.document(SERVER_KEY_DOC)).await? {
            Some(kept) if kept != announced.0 => Err(Error::refused(
                "receipt",
                "the server announces another receipt key than before",
            )),
            Some(_) => Ok((config, vec![announced])),
            None => {
                let key = announced.0;
                self.on_disk(move |local| local.set_document(SERVER_KEY_DOC, &key))
                    .await?;
                Ok((config, vec![announced]))
            }
        }
    }
}

/// Runs blocking `work` (file and database I/O, sealing, the stamp search) on the current tokio
/// runtime's blocking pool, or inline when there is none. A panic in `work` goes on unwinding in
/// the caller; a runtime shutting down under it is an I/O error.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Ok(work());
    };
    match runtime.spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::Io(std::io::Error::other("the runtime is shutting down"))),
    }
}
