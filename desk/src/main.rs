//! `tipline-desk`: serve the desk, or add an account from the command line (the first
//! supervisor is made this way).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::{Parser, Subcommand};
use tipline_desk::accounts::{check_name, Account, Role};
use tipline_desk::audit::{self, AuditEntry};
use tipline_desk::auth::password::{self, HashCost};
use tipline_desk::setup::{authority_key, open_desk, open_store, passphrase, read_keys};
use tipline_desk::state::{load_accounts, store_account};
use tipline_desk::{app, AppState, Config, DeskError, Result};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "tipline-desk",
    version,
    about = "The unit's desk as a web application"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// The desk's data folder (its encrypted store).
    #[arg(long)]
    data_dir: PathBuf,
    /// The unit's private key file (from `tipline unit keygen`).
    #[arg(long)]
    key: PathBuf,
    /// A file whose first line is the store's passphrase (else TIPLINE_DESK_PASSPHRASE).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the desk to the unit's officers.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// The intake server, e.g. https://intake.example.org.
        #[arg(long)]
        server: String,
        /// The authority's public key (base64url, or a file holding it): needed to transfer.
        #[arg(long, allow_hyphen_values = true)]
        authority_pub: Option<String>,
        /// Where to listen; loopback unless told otherwise.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account; its password is read from standard input or --password-file.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// The sign-in name.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// A file whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn read_password(file: Option<&Path>) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    match file {
        Some(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(path)?);
            line.push_str(text.lines().next().unwrap_or(""));
        }
        None => {
            std::io::stdin().lock().read_line(&mut line)?;
            let trimmed = line.trim_end_matches(['\r', '\n']).len();
            line.truncate(trimmed);
        }
    }
    Ok(line)
}

fn add_user(store: &StoreArgs, name: &str, role: Role, password_file: Option<&Path>) -> Result<()> {
    check_name(name)?;
    let password = read_password(password_file)?;
    password::check_new(&password)?;
    let keys = read_keys(&store.key)?;
    let passphrase = passphrase(store.passphrase_file.as_deref())?;
    let desk_store = open_store(&store.data_dir, &keys, &passphrase)?;
    if load_accounts(&desk_store)?.contains_key(name) {
        return Err(DeskError::invalid("name", "an account of that name exists"));
    }
    let account = Account {
        name: name.to_owned(),
        role,
        password_hash: password::hash(&password, HashCost::default())?,
        totp_secret: None,
        totp_last_step: None,
        disabled: false,
        language: "en".into(),
        created_at: Utc::now(),
        created_by: None,
    };
    audit::append(
        &desk_store,
        &AuditEntry::now(None, "account.add")
            .target(name)
            .detail(role.name()),
    )?;
    store_account(&desk_store, &account)?;
    println!(
        "Added {} {name}; they enrol their TOTP code at first sign-in.",
        role.name()
    );
    Ok(())
}

async fn serve(store: &StoreArgs, server: &str, authority: Option<&str>, listen: SocketAddr) -> Result<()> {
    let authority = authority.map(authority_key).transpose()?;
    let keys = read_keys(&store.key)?;
    let passphrase = passphrase(store.passphrase_file.as_deref())?;
    let desk_store = open_store(&store.data_dir, &keys, &passphrase)?;
    drop(passphrase);
    let desk = open_desk(desk_store, keys, server)?;
    let config = Config {
        authority,
        ..Config::default()
    };
    let state = AppState::open(desk, config)?;
    if state.accounts().is_empty() {
        tracing::warn!("no accounts yet: add a supervisor with `tipline-desk user add`");
    }
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "listening beyond this computer: put TLS in front of the desk");
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "desk listening");
    let closing = state.clone();
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown().await;
            // Open pages' event streams end, so the shutdown does not wait on them.
            closing.close();
        })
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve {
            store,
            server,
            authority_pub,
            listen,
        } => serve(store, server, authority_pub.as_deref(), *listen).await,
        Command::User {
            command:
                UserCommand::Add {
                    store,
                    name,
                    role,
                    password_file,
                },
        } => add_user(store, name, *role, password_file.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tipline-desk: {e}");
            ExitCode::FAILURE
        }
    }
}
