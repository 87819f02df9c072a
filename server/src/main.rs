//! `tipline-server`: parses the configuration, opens the backend and starts the server (see
//! `tipline_server::launch`) until Ctrl-C or SIGTERM. Everything else lives in the library.

use anyhow::Context as _;
use chrono::Utc;
use clap::Parser;
use tipline_server::config::{self, Config};
use tipline_server::launch::{Backend, ServerConfig};
use tipline_server::{dev, gateway, serve, AppState};
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
    let server_key = config.receipt_key()?;
    let database = config.database()?;
    tracing::info!(backend = database.kind(), "opening the store");
    let backend = Backend::open(&database).await?;

    let dev_setup = if config.dev {
        Some(
            dev::prepare(
                &config.data_dir,
                backend.store.as_ref(),
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
    let server_config = ServerConfig {
        settings,
        serve: options,
        retention: Some((
            config.retention(),
            std::time::Duration::from_secs(config.purge_interval_seconds),
        )),
        gateway_keys: Some(gateway::GatewayKeys::load_or_create(&config.data_dir)?),
        ..ServerConfig::new(backend, server_key, authority)
    };

    let listener =
        serve::listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    let server = server_config.start(listener).await?;
    let state = server.state().clone();
    #[cfg(unix)]
    let reload_task = tokio::spawn(reload_gateway_keys(state.clone(), config.data_dir.clone()));
    tracing::info!(url = %server.url(), "listening");
    if let Some(setup) = &dev_setup {
        println!("{}", setup.instructions(server.url()));
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
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await?;
    #[cfg(unix)]
    reload_task.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    Ok(())
}

/// SIGHUP reads the gateway's keys again (after `--new-gateway-key` or `--retire-gateway-key`).
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
