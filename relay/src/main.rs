//! `tipline-relay`: parses the command line and serves the relay until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tipline_relay::{app, serve, RelayConfig, ServeOptions, DEFAULT_MAX_REQUEST, DEFAULT_MAX_RESPONSE};
use tracing_subscriber::EnvFilter;

/// An Oblivious HTTP relay (RFC 9458) for one Tipline intake: forwards encapsulated requests to
/// its gateway; adds nothing that identifies the client; logs no address or body.
#[derive(Debug, Parser)]
#[command(name = "tipline-relay", version, about)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, env = "TIPLINE_RELAY_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The gateway's URL, e.g. https://intake.example.org/.well-known/ohttp-gateway.
    #[arg(long, env = "TIPLINE_RELAY_GATEWAY")]
    gateway: String,
    /// Local address to connect to the gateway from (default: the system's choice).
    #[arg(long, env = "TIPLINE_RELAY_OUTGOING_ADDRESS")]
    outgoing_address: Option<IpAddr>,
    /// Largest encapsulated request, in bytes.
    #[arg(long, env = "TIPLINE_RELAY_MAX_REQUEST", default_value_t = DEFAULT_MAX_REQUEST)]
    max_request: usize,
    /// Largest encapsulated answer, in bytes.
    #[arg(long, env = "TIPLINE_RELAY_MAX_RESPONSE", default_value_t = DEFAULT_MAX_RESPONSE)]
    max_response: usize,
    /// Requests per minute from one client address.
    #[arg(long, env = "TIPLINE_RELAY_PER_MINUTE", default_value_t = 600)]
    per_minute: u32,
    /// Requests one client address may make at once above its rate.
    #[arg(long, env = "TIPLINE_RELAY_BURST", default_value_t = 60)]
    burst: u32,
    /// Requests forwarded at once, all clients together.
    #[arg(long, env = "TIPLINE_RELAY_MAX_IN_FLIGHT", default_value_t = 512)]
    max_in_flight: usize,
    /// Seconds an exchange with the gateway may take, from connecting to its answer's last byte.
    #[arg(long, env = "TIPLINE_RELAY_TIMEOUT_SECONDS", default_value_t = 60)]
    timeout_seconds: u64,
    /// Seconds for a request head to arrive whole (and for a kept-alive connection's next one).
    #[arg(long, env = "TIPLINE_RELAY_HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    header_timeout_seconds: u64,
    /// Seconds for a request body to arrive whole.
    #[arg(long, env = "TIPLINE_RELAY_BODY_TIMEOUT_SECONDS", default_value_t = 60)]
    body_timeout_seconds: u64,
    /// Longest pause within a request body, in seconds.
    #[arg(long, env = "TIPLINE_RELAY_BODY_STALL_SECONDS", default_value_t = 15)]
    body_stall_seconds: u64,
    /// Seconds a write of an answer may wait for the client to take its bytes.
    #[arg(long, env = "TIPLINE_RELAY_WRITE_TIMEOUT_SECONDS", default_value_t = 30)]
    write_timeout_seconds: u64,
    /// Connections open at once, all clients together.
    #[arg(long, env = "TIPLINE_RELAY_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Log lines carry statuses and failures, never an address or a body.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    anyhow::ensure!(
        args.gateway.starts_with("https://") || args.gateway.starts_with("http://"),
        "--gateway must be an https:// URL (http:// for loopback tests)"
    );
    let config = RelayConfig {
        gateway: args.gateway,
        outgoing_address: args.outgoing_address,
        max_request: args.max_request,
        max_response: args.max_response,
        per_minute: args.per_minute,
        burst: args.burst,
        max_in_flight: args.max_in_flight,
        timeout: Duration::from_secs(args.timeout_seconds.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout_seconds.max(1)),
        body_stall: Duration::from_secs(args.body_stall_seconds.max(1)),
    };
    let router = app(config)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(%url, "relay listening");
    println!("{url}");
    let options = ServeOptions {
        header_timeout: Duration::from_secs(args.header_timeout_seconds.max(1)),
        write_timeout: Duration::from_secs(args.write_timeout_seconds.max(1)),
        max_connections: args.max_connections.max(1),
    };
    serve(listener, router, options, shutdown_signal()).await?;
    Ok(())
}
