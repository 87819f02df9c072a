//! `tipline-server`: parses the configuration, opens the store, builds the state and serves the
//! API until Ctrl-C or SIGTERM. Everything else lives in the library.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use clap::Parser;
use tipline_server::config::{self, Config};
use tipline_server::store::sqlite::SqliteStore;
use tipline_server::store::Store;
use tipline_server::{app, dev, gateway, retention, serve, AppState};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Log lines carry method, route template, status, latency and error codes: never a client
    // address, an id, a case secret or an envelope.
    // Logs go to stderr, so that stdout carries only what is meant for the operator (`--dev`).
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    config::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    if config.new_gateway_key || config.show_gateway_keys {
        if config.new_gateway_key {
            gateway::keys::new_key(&config.data_dir)?;
        }
        // One line per live key: its id and its configuration (base64url), as
        // `tipline authority sign --gateway-key` takes it.
        let keys = gateway::GatewayKeys::load_or_create(&config.data_dir)?;
        for id in keys.ids() {
            let encoded = keys
                .config(id)
                .map(|c| tipline_core::encoding::b64(&c))
                .unwrap_or_default();
            println!("{id} {encoded}");
        }
        return Ok(());
    }
    if let Some(id) = config.retire_gateway_key {
        gateway::keys::retire_key(&config.data_dir, id)?;
        return Ok(());
    }
    let server_key = config::load_or_create_server_key(&config.data_dir)?;
    let db = config.database_path();
    let store: Arc<dyn Store> = Arc::new(
        tokio::task::spawn_blocking(move || SqliteStore::open(&db))
            .await
            .context("store task")?
            .context("cannot open the database")?,
    );

    let dev_setup = if config.dev {
        Some(
            dev::prepare(
                &config.data_dir,
                store.as_ref(),
                server_key.verifying_key(),
                Utc::now(),
            )
            .await?,
        )
    } else {
        None
    };
    let authority = config.authority_key()?.with_context(|| {
        format!(
            "no authority key: pass --authority-key <base64url Ed25519 public key>, put it in {}, \
             or try --dev",
            config.data_dir.join(config::AUTHORITY_PUB_FILE).display()
        )
    })?;

    let open_files = serve::files::raise_open_file_limit();
    let options = config.serve_options(open_files);
    let mut settings = config.settings();
    settings.max_streams = serve::files::stream_cap(options.max_connections, config.max_streams);
    tracing::info!(
        open_files,
        max_connections = options.max_connections,
        max_streams = settings.max_streams,
        "connection caps"
    );
    let state = AppState::new(store, server_key, authority, settings);
    if !state.load_directory(Utc::now()).await? {
        tracing::warn!(
            "no verified directory yet: reports are refused until one is published (PUT /v1/directory)"
        );
    }
    let keys = gateway::GatewayKeys::load_or_create(&config.data_dir)?;
    tracing::info!(key_ids = ?keys.ids(), "oblivious gateway keys");
    state.gateway().set_keys(keys);
    #[cfg(unix)]
    let reload_task = tokio::spawn(reload_gateway_keys(state.clone(), config.data_dir.clone()));
    let retention_task = retention::spawn(
        state.clone(),
        config.retention(),
        std::time::Duration::from_secs(config.purge_interval_seconds),
    );

    let listener =
        serve::listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(%url, "listening");
    if let Some(setup) = &dev_setup {
        println!("{}", setup.instructions(&url));
    }

    // Metrics are for the operator: a server whose metrics address is taken (another server on
    // the same machine) still serves reports, and says so.
    let metrics_listener = match config.metrics_listen.0 {
        Some(address) => match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(%address, error = %e, "metrics not served: cannot listen");
                None
            }
        },
        None => None,
    };
    let metrics_task = match metrics_listener {
        Some(listener) => {
            tracing::info!(url = %format!("http://{}/metrics", listener.local_addr()?), "metrics");
            let metrics = serve::ServeOptions {
                max_connections: 16,
                ..options
            };
            let app = tipline_server::metrics_app(state.clone());
            Some(tokio::spawn(serve::serve(
                listener,
                app,
                metrics,
                std::future::pending(),
            )))
        }
        None => None,
    };
    let stopping = state.clone();
    serve::serve(listener, app(state), options, async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        stopping.begin_shutdown();
    })
    .await?;
    retention_task.abort();
    #[cfg(unix)]
    reload_task.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    Ok(())
}

/// Reads the gateway's key folder again on every SIGHUP (after a key was added or retired).
#[cfg(unix)]
async fn reload_gateway_keys(state: AppState, data_dir: std::path::PathBuf) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: gateway keys are read at start only");
        return;
    };
    while hangup.recv().await.is_some() {
        match gateway::GatewayKeys::load(&data_dir) {
            Ok(keys) => {
                tracing::info!(key_ids = ?keys.ids(), "oblivious gateway keys read again");
                state.gateway().set_keys(keys);
            }
            Err(e) => tracing::error!(error = %e, "gateway keys not read again; the previous ones stay"),
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
