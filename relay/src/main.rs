//! `tipline-relay`: parses the command line and serves the relay until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tipline_relay::{app, RelayConfig, DEFAULT_MAX_REQUEST, DEFAULT_MAX_RESPONSE};
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
    /// Seconds an exchange with the gateway may take.
    #[arg(long, env = "TIPLINE_RELAY_TIMEOUT_SECONDS", default_value_t = 60)]
    timeout_seconds: u64,
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
    };
    let router = app(config)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(%url, "relay listening");
    println!("{url}");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
