//! The citizen's client for the apps: each method hands its call to the core on the crate's
//! runtime and converts the answer. Calls that touch the disk or the network are async (Kotlin
//! `suspend`, Swift `async`, Python coroutines); the ones that read memory only are not.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use tipline_core::client::Client;

use crate::convert::{self, list};
use crate::error::{from_core, ApiError};
use crate::platform::{CoreListener, KeyStore, OutboxListener};
use crate::runtime;
use crate::types::*;

/// A citizen's client: the directory, the outbox and its delivery, the case book, alerts and
/// hotlines, on one device. Open one per app, keep it for the app's lifetime.
#[derive(uniffi::Object)]
pub struct TiplineClient {
    inner: Arc<Client>,
}

impl TiplineClient {
    fn wrap(client: Client) -> Arc<Self> {
        Arc::new(TiplineClient {
            inner: Arc::new(client),
        })
    }

    /// Runs an async core call on the runtime.
    fn run<T, F>(&self, call: impl FnOnce(Arc<Client>) -> F) -> impl Future<Output = Result<T, ApiError>>
    where
        T: Send + 'static,
        F: Future<Output = tipline_core::Result<T>> + Send + 'static,
    {
        runtime::spawn(call(self.inner.clone()))
    }

    /// Runs a blocking core call (disk, sealing) on the runtime's blocking pool.
    fn run_blocking<T, F>(&self, call: F) -> impl Future<Output = Result<T, ApiError>>
    where
        T: Send + 'static,
        F: FnOnce(&Client) -> tipline_core::Result<T> + Send + 'static,
    {
        let client = self.inner.clone();
        runtime::blocking(move || call(&client))
    }
}

#[uniffi::export]
impl TiplineClient {
    /// Opens the client's storage in the configured folder, protected by keys from `key_store`,
    /// and the cached directory if it still verifies. Works offline.
    #[uniffi::constructor]
    pub async fn open(config: ClientConfig, key_store: Arc<dyn KeyStore>) -> Result<Arc<Self>, ApiError> {
        runtime::blocking(move || Client::open(convert::client_config(config, key_store)?))
            .await
            .map(Self::wrap)
    }

    /// Fetches the directory, checks it against the pinned authority key, its expiry and the
    /// cached version, and caches it for offline use. A directory that fails a check is refused
    /// (`ApiError.Crypto`) and the cached one stays in use.
    pub async fn refresh_directory(&self) -> Result<DirectoryInfo, ApiError> {
        self.run(|c| async move { c.refresh_directory().await })
            .await
            .map(Into::into)
    }

    /// Whether the reporter lets calls go through an Oblivious HTTP relay (the default), so
    /// that the intake never sees the device's address.
    pub async fn use_relay(&self) -> Result<bool, ApiError> {
        self.run_blocking(|c| c.use_relay()).await
    }

    /// The reporter's choice in the settings: through a relay when one is known (`true`), or
    /// straight to the intake (`false`).
    pub async fn set_use_relay(&self, enabled: bool) -> Result<(), ApiError> {
        self.run_blocking(move |c| c.set_use_relay(enabled)).await
    }

    /// Whether calls go through a relay now (a relay is known and the reporter lets them).
    pub fn through_relay(&self) -> bool {
        self.inner.is_oblivious()
    }

    /// The verified directory in use (cached or last refreshed), if any.
    pub fn directory(&self) -> Option<DirectoryInfo> {
        self.inner.directory().map(Into::into)
    }

    /// Seals a draft and puts it in the outbox at once, with no network needed: checks every
    /// field (`ApiError.InvalidInput` lists the problems), strips photo metadata, blurs the
    /// position, creates the case and its codename, seals and stores. Then call `flush`.
    pub async fn file_report(&self, draft: Draft) -> Result<Filed, ApiError> {
        self.run(|c| async move { c.file_report_async(draft.try_into()?).await })
            .await
            .map(Into::into)
    }

    /// Tries to deliver every outbox item that is due; call it when the app starts, when the
    /// network comes back and from background work. Concurrent calls wait for each other.
    pub async fn flush(&self) -> Result<FlushSummary, ApiError> {
        self.run(|c| async move { c.flush().await }).await.map(Into::into)
    }

    /// Every outbox item with its status, oldest first. Nothing is ever dropped from it.
    pub async fn outbox(&self) -> Result<Vec<OutboxItem>, ApiError> {
        self.run_blocking(|c| c.outbox()).await.map(list)
    }

    /// Puts an item back in the queue, due now (the reporter pressed "retry"); false if there
    /// was nothing to retry.
    pub async fn retry(&self, report_id: String) -> Result<bool, ApiError> {
        self.run_blocking(move |c| c.retry(convert::report_id(&report_id)?))
            .await
    }

    /// Makes due now the items that waited only because the phone was offline
    /// (`reason-offline`), not those waiting out a busy or failing server's back-off: call it
    /// when the platform says the network is back, then `flush`. Returns how many.
    pub async fn retry_waiting_for_network(&self) -> Result<u32, ApiError> {
        self.run_blocking(|c| c.retry_waiting_for_network()).await
    }

    /// Registers the listener that hears every outbox status change (replacing any before).
    pub fn set_listener(&self, listener: Arc<dyn OutboxListener>) {
        self.inner.set_listener(Arc::new(CoreListener(listener)))
    }

    /// The cases on this device, oldest first.
    pub async fn cases(&self) -> Result<Vec<CaseSummary>, ApiError> {
        self.run_blocking(|c| c.cases()).await.map(list)
    }

    /// The codename of a case on this device, to show it again.
    pub async fn codename(&self, case_id: String) -> Result<String, ApiError> {
        self.run_blocking(move |c| Ok(c.codename(convert::case_id(&case_id)?)?.to_string()))
            .await
    }

    /// Fetches what is new in a case, opens the unit's replies and checks their signatures
    /// against the directory, and returns the whole conversation, oldest first.
    pub async fn conversation(&self, case_id: String) -> Result<Vec<ConversationMessage>, ApiError> {
        self.run(|c| async move { c.conversation(convert::case_id(&case_id)?).await })
            .await
            .map(list)
    }

    /// The background check: asks each open case once for news, one at a time at random moments
    /// spread over `spread_seconds` (so the server cannot tell the cases belong to one device),
    /// stores what is new, and says how many cases have a new reply or status notice. For the
    /// app's background work and its start; the app shows a discreet notification when
    /// `with_news` is not zero.
    pub async fn check_cases(&self, spread_seconds: u32) -> Result<CaseCheck, ApiError> {
        let spread = std::time::Duration::from_secs(spread_seconds.into());
        self.run(|c| async move { c.check_cases(spread).await })
            .await
            .map(Into::into)
    }

    /// Sends a follow-up in a case, sealed to the case's unit. Needs a connection; on failure
    /// the app keeps the text and tries again: the same words again are the same message, so
    /// the unit reads it once even if an earlier try reached the server.
    pub async fn send_follow_up(
        &self,
        case_id: String,
        text: String,
    ) -> Result<ConversationMessage, ApiError> {
        self.run(|c| async move { c.send_follow_up(convert::case_id(&case_id)?, &text).await })
            .await
            .map(Into::into)
    }

    /// Adds a case to this device from its codename (after checking with the server that the
    /// codename opens it) and returns the case id.
    pub async fn recover_case(&self, codename: String) -> Result<String, ApiError> {
        self.run(|c| async move { c.recover_case(&codename).await })
            .await
            .map(|id| id.to_string())
    }

    /// The active alerts for `region` in `language`, each verified against the directory;
    /// forged, altered, expired or unknown-unit alerts are left out.
    pub async fn alerts(&self, region: String, language: Language) -> Result<Vec<AlertView>, ApiError> {
        self.run(|c| async move { c.alerts(&region, language.into()).await })
            .await
            .map(list)
    }

    /// The hotlines for `region` from the directory, named in `language`, with whether each is
    /// open at `now` in its own time zone.
    pub fn hotlines(
        &self,
        region: String,
        language: Language,
        now: SystemTime,
    ) -> Result<Vec<HotlineView>, ApiError> {
        convert::now(now)
            .and_then(|now| self.inner.hotlines(&region, language.into(), now))
            .map(list)
            .map_err(from_core)
    }
}
