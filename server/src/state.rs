//! What every handler shares: the store, the verified directory (cached in memory for unit
//! lookups), the keys, the push hub, the rate limiters, the metrics and the settings.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tipline_core::directory::{SignedDirectory, VerifiedDirectory, DIRECTORY_FORMATS};
use tipline_core::keys::{SigningKey, VerifyingKey};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::budget::BodyBudget;
use crate::difficulty::{Difficulty, StampPolicy};
use crate::error::AppError;
use crate::limits::{Limiters, RateLimits};
use crate::metrics::Metrics;
use crate::push::{LocalHub, PushHub};
use crate::receipts::ReceiptSigner;
use crate::replay::NonceBook;
use crate::storage::StorageBudget;
use crate::store::{Store, StoreResult};
use tipline_core::api::code;

/// Tunable behaviour, from the command line or a test.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Leading zero bits a submission's stamp must have when intake is calm (the floor of the
    /// adaptive difficulty).
    pub stamp_difficulty: u8,
    /// How the stamp difficulty rises under a flood and falls back.
    pub stamp_policy: StampPolicy,
    /// How long a delivery to a desk holds before the report is delivered again.
    pub lease: Duration,
    /// How far a signed request's timestamp may be from the server's clock, in seconds.
    pub max_clock_skew_secs: i64,
    /// Request rates.
    pub rates: RateLimits,
    /// Interval of keep-alive comments on desk streams.
    pub keep_alive: Duration,
    /// Bytes the store may take; report and attachment intake is refused past it (507).
    pub storage_budget: u64,
    /// Most sealed bytes of attachments one report may declare, all together.
    pub max_report_attachment_bytes: u64,
    /// How long a report never acknowledged, or an upload never completed, is kept.
    pub unacknowledged_retention: chrono::Duration,
    /// Live desk streams open at once, all units together.
    pub max_streams: usize,
    /// Bytes of request bodies held in memory at once, all requests together.
    pub body_memory: usize,
    /// How long a piece of a request body waits for room in that budget before the request is
    /// answered `503 busy`.
    pub body_wait: Duration,
    /// How long a rendering of `/metrics` is served before a new one is made.
    pub metrics_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            stamp_difficulty: 16,
            stamp_policy: StampPolicy::default(),
            lease: Duration::from_secs(60),
            max_clock_skew_secs: 60,
            rates: RateLimits::default(),
            keep_alive: Duration::from_secs(15),
            storage_budget: u64::MAX,
            max_report_attachment_bytes: crate::limits::MAX_REPORT_ATTACHMENT_BYTES,
            unacknowledged_retention: chrono::Duration::days(30),
            max_streams: 1024,
            body_memory: 64 * 1024 * 1024,
            body_wait: Duration::from_secs(1),
            metrics_interval: Duration::from_secs(300),
        }
    }
}

struct Inner {
    store: Arc<dyn Store>,
    directory: RwLock<Option<Arc<VerifiedDirectory>>>,
    authority: VerifyingKey,
    server_key: Arc<SigningKey>,
    receipts: ReceiptSigner,
    push: Arc<dyn PushHub>,
    limiters: Limiters,
    difficulty: Difficulty,
    storage: StorageBudget,
    metrics: Metrics,
    settings: Settings,
    streams: Arc<Semaphore>,
    nonces: NonceBook,
    body_budget: BodyBudget,
    shutdown: watch::Sender<bool>,
}

/// The handlers' shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// State over `store`, signing receipts with `server_key` in batches (see [`ReceiptSigner`])
    /// and trusting directories signed by `authority`, with an in-process push hub. Call
    /// [`AppState::load_directory`] next.
    pub fn new(
        store: Arc<dyn Store>,
        server_key: SigningKey,
        authority: VerifyingKey,
        settings: Settings,
    ) -> Self {
        Self::with_push(store, server_key, authority, settings, Arc::new(LocalHub::new()))
    }

    /// [`AppState::new`] with another push hub.
    pub fn with_push(
        store: Arc<dyn Store>,
        server_key: SigningKey,
        authority: VerifyingKey,
        settings: Settings,
        push: Arc<dyn PushHub>,
    ) -> Self {
        let (shutdown, _) = watch::channel(false);
        let server_key = Arc::new(server_key);
        let receipts = ReceiptSigner::new(Arc::clone(&server_key));
        AppState(Arc::new(Inner {
            store,
            directory: RwLock::new(None),
            authority,
            server_key,
            receipts,
            push,
            limiters: Limiters::new(settings.rates),
            difficulty: Difficulty::new(
                settings.stamp_difficulty,
                settings.stamp_policy,
                std::time::Instant::now(),
            ),
            storage: StorageBudget::new(settings.storage_budget),
            metrics: Metrics::new(),
            streams: Arc::new(Semaphore::new(settings.max_streams.max(1))),
            nonces: NonceBook::new(settings.max_clock_skew_secs, &settings.rates),
            body_budget: BodyBudget::new(settings.body_memory, settings.body_wait),
            settings,
            shutdown,
        }))
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// The push hub.
    pub fn push(&self) -> &dyn PushHub {
        self.0.push.as_ref()
    }

    /// The rate limiters.
    pub fn limiters(&self) -> &Limiters {
        &self.0.limiters
    }

    /// The adaptive stamp difficulty.
    pub fn difficulty(&self) -> &Difficulty {
        &self.0.difficulty
    }

    /// The storage budget.
    pub fn storage(&self) -> &StorageBudget {
        &self.0.storage
    }

    /// The nonces of signed unit requests seen within their validity window.
    pub fn nonces(&self) -> &NonceBook {
        &self.0.nonces
    }

    /// The memory budget of request bodies.
    pub fn body_budget(&self) -> &BodyBudget {
        &self.0.body_budget
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// A slot for a live desk stream, held until dropped; 503 `busy` when all are taken.
    pub fn stream_slot(&self) -> Result<OwnedSemaphorePermit, AppError> {
        Arc::clone(&self.0.streams).try_acquire_owned().map_err(|_| {
            AppError::unavailable(code::BUSY, "too many live streams are open; retry shortly")
                .with_header(axum::http::header::RETRY_AFTER, 5)
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The key that signs receipts.
    pub fn server_key(&self) -> &SigningKey {
        &self.0.server_key
    }

    /// The receipt signer.
    pub fn receipts(&self) -> &ReceiptSigner {
        &self.0.receipts
    }

    /// The authority key directories must be signed with.
    pub fn authority(&self) -> &VerifyingKey {
        &self.0.authority
    }

    /// The current verified directory, if one is published.
    pub fn directory(&self) -> Option<Arc<VerifiedDirectory>> {
        self.0
            .directory
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Caches `directory` unless a newer one is cached already (two publications may race); of
    /// the two formats of one version, the newer format (it also names the intake's keys).
    pub fn set_directory(&self, directory: VerifiedDirectory) {
        let mut slot = self
            .0
            .directory
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.as_ref().is_none_or(|current| {
            (current.version(), current.format()) < (directory.version(), directory.format())
        }) {
            *slot = Some(Arc::new(directory));
        }
    }

    /// The verifying key of unit `unit_id`: 404 `unknown_unit` if the directory does not list
    /// it, 503 `no_directory` if none is published.
    pub fn unit_key(&self, unit_id: &str) -> Result<VerifyingKey, AppError> {
        let directory = self
            .directory()
            .ok_or_else(|| AppError::unavailable(code::NO_DIRECTORY, "no directory is published yet"))?;
        directory
            .verifying_key_for_unit(unit_id)
            .ok_or_else(AppError::unknown_unit)
    }

    /// Loads the published directory from the store and caches it if it verifies now and is
    /// newer than the cached one. Returns whether a directory is cached afterwards. A stored
    /// directory that no longer verifies (expired, or signed by another authority) is logged
    /// and left out.
    pub async fn load_directory(&self, now: DateTime<Utc>) -> StoreResult<bool> {
        for format in DIRECTORY_FORMATS {
            let cached = self.directory().map(|d| (d.version(), d.format()));
            if let Some((version, json)) = self.store().directory(format).await? {
                if cached.is_none_or(|cached| cached < (version, format)) {
                    match SignedDirectory::from_json(&json)
                        .and_then(|d| d.verify(self.authority(), now, None))
                    {
                        Ok(verified) => self.set_directory(verified),
                        Err(e) => {
                            tracing::warn!(version, format, error = %e, "the stored directory does not verify")
                        }
                    }
                }
            }
        }
        Ok(self.directory().is_some())
    }

    /// Tells live streams to end, so that a graceful shutdown is not held up by them.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// A receiver that turns `true` once [`AppState::begin_shutdown`] was called.
    pub fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }

    /// Resolves once [`AppState::begin_shutdown`] was called.
    pub fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.shutdown.subscribe();
        async move {
            // An error means the sender is gone, which is a shutdown too.
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }
}
