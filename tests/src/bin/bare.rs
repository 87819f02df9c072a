//! The load benchmark's baseline: a bare axum 0.8 server whose one handler,
//! `POST /v1/reports`, reads the body and answers 200 without doing anything else. `loadgen`
//! compares the intake server's throughput to this one's on the same machine in the same run.
//!
//! `bare --listen 127.0.0.1:0` prints `listening on http://<address>` once it accepts.

use std::io::Write as _;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use clap::Parser;

/// A bare axum server: `POST /v1/reports` consumes the body and answers 200.
#[derive(Debug, Parser)]
#[command(name = "bare")]
struct Args {
    /// Address and port to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

async fn consume(body: Bytes) -> StatusCode {
    drop(body);
    StatusCode::OK
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        anyhow::bail!("bare listens on loopback only");
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let app = Router::new().route("/v1/reports", post(consume));
    axum::serve(listener, app).await?;
    Ok(())
}
