//! One way to start a server: the backend (embedded SQLite or PostgreSQL) opened from a
//! [`Database`], a [`ServerConfig`] around it, and [`ServerConfig::start`] returning the running
//! [`Server`]. `main.rs`, the demo, the load generator and the test harnesses all start servers
//! through here instead of wiring a store, a push hub and a state by hand.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use tipline_core::keys::{SigningKey, VerifyingKey};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::push::{LocalHub, PushHub};
use crate::serve::{self, ServeOptions};
use crate::state::{AppState, Settings};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

/// Where the reports are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite store in this file (the default: one node).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://...`), which several nodes may share.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    // A PostgreSQL URL may carry a password: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl Database {
    /// `url` if it is a PostgreSQL URL (`postgres://` or `postgresql://`), else SQLite at
    /// `sqlite_path`.
    pub fn choose(url: Option<&str>, sqlite_path: PathBuf) -> anyhow::Result<Database> {
        match url.map(str::trim).filter(|url| !url.is_empty()) {
            None => Ok(Database::Sqlite(sqlite_path)),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Database::Postgres(url.to_owned()))
            }
            Some(_) => anyhow::bail!("--database takes a postgres:// URL (without it: embedded SQLite)"),
        }
    }

    /// A short name for logs: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }
}

/// An opened backend: the store and the push hub that goes with it (in-process for SQLite,
/// across nodes by `LISTEN`/`NOTIFY` for PostgreSQL).
#[derive(Clone)]
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The push hub.
    pub push: Arc<dyn PushHub>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").finish_non_exhaustive()
    }
}

impl Backend {
    /// Opens `database`, bringing its schema up to date.
    pub async fn open(database: &Database) -> anyhow::Result<Backend> {
        match database {
            Database::Sqlite(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                    .await
                    .context("store task")?
                    .context("cannot open the database")?;
                Ok(Backend::new(Arc::new(store)))
            }
            Database::Postgres(url) => {
                let store = crate::store::postgres::PostgresStore::connect(url)
                    .await
                    .context("cannot open the PostgreSQL database")?;
                let push = Arc::new(store.push_hub());
                Ok(Backend {
                    store: Arc::new(store),
                    push,
                })
            }
        }
    }

    /// `store` with an in-process push hub.
    pub fn new(store: Arc<dyn Store>) -> Backend {
        Backend {
            store,
            push: Arc::new(LocalHub::new()),
        }
    }
}

/// Everything a server needs to run.
#[derive(Debug)]
pub struct ServerConfig {
    /// The store and push hub.
    pub backend: Backend,
    /// The key that signs receipts.
    pub server_key: SigningKey,
    /// The authority whose directories are served.
    pub authority: VerifyingKey,
    /// The handlers' settings.
    pub settings: Settings,
    /// The accept loop's bounds.
    pub serve: ServeOptions,
    /// Retention of acknowledged reports and how often the purge runs; `None`: no background
    /// purge (tests that call it themselves).
    pub retention: Option<(chrono::Duration, Duration)>,
    /// The Oblivious HTTP gateway's keys; `None`: the gateway refuses every encapsulated request
    /// until keys are set on the state.
    pub gateway_keys: Option<crate::gateway::GatewayKeys>,
}

impl ServerConfig {
    /// A configuration with default settings, default accept-loop bounds and no background purge.
    pub fn new(backend: Backend, server_key: SigningKey, authority: VerifyingKey) -> ServerConfig {
        ServerConfig {
            backend,
            server_key,
            authority,
            settings: Settings::default(),
            serve: ServeOptions::default(),
            retention: None,
            gateway_keys: None,
        }
    }

    /// The handlers' state with the stored directory loaded (for tests that drive the router
    /// without a socket; [`ServerConfig::start`] does this too).
    pub async fn state(&self) -> anyhow::Result<AppState> {
        let state = AppState::with_push(
            Arc::clone(&self.backend.store),
            SigningKey::from_seed(*self.server_key.to_seed()).context("the receipt key")?,
            self.authority,
            self.settings.clone(),
            Arc::clone(&self.backend.push),
        );
        if !state.load_directory(Utc::now()).await? {
            tracing::warn!(
                "no verified directory yet: reports are refused until one is published (PUT /v1/directory)"
            );
        }
        Ok(state)
    }

    /// Serves the API on `listener` until [`Server::stop`], with the background purge if asked.
    pub async fn start(mut self, listener: TcpListener) -> anyhow::Result<Server> {
        let state = self.state().await?;
        if let Some(keys) = self.gateway_keys.take() {
            tracing::info!(key_ids = ?keys.ids(), "oblivious gateway keys");
            state.gateway().set_keys(keys);
        }
        let url = format!("http://{}", listener.local_addr()?);
        let retention = self
            .retention
            .map(|(keep, every)| crate::retention::spawn(state.clone(), keep, every));
        let stopping = state.clone();
        let task = tokio::spawn(serve::serve(
            listener,
            crate::app(state.clone()),
            self.serve,
            stopping.shutdown_signal(),
        ));
        Ok(Server {
            state,
            url,
            task,
            retention,
        })
    }
}

/// A running server.
pub struct Server {
    state: AppState,
    url: String,
    task: JoinHandle<std::io::Result<()>>,
    retention: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The handlers' state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// `http://<address>:<port>` it listens on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Ends live streams, lets open requests finish (within the accept loop's grace) and stops.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.begin_shutdown();
        self.wait().await
    }

    /// Waits until the server stops (after [`AppState::begin_shutdown`]).
    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.task.await.context("server task")?;
        if let Some(retention) = self.retention {
            retention.abort();
        }
        served.context("serving")
    }
}
