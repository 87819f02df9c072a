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
use tipline_desk::auth::sessions::{self, Expiry};
use tipline_desk::categories;
use tipline_desk::setup::{authority_key, open_desk, open_store, passphrase, read_keys};
use tipline_desk::state::{load_accounts, store_account};
use tipline_desk::{app, receiver, AppState, Config, DeskError, Result};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "tipline-desk",
    version,
    about = "The unit's desk as a web application"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// A ready-to-try desk next to `tipline-server --dev` (the same as `tipline-desk dev`).
    #[arg(long)]
    dev: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Parser)]
struct DevArgs {
    /// The data folder of `tipline-server --dev` (its unit keys and authority key).
    #[arg(long, default_value = "tipline-data")]
    server_data: PathBuf,
    /// The unit of the dev directory this desk is for.
    #[arg(long, default_value = "dk-infohus-vestegnen")]
    unit: String,
    /// The desk's data folder.
    #[arg(long, default_value = "tipline-desk-data")]
    data_dir: PathBuf,
    /// The intake server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    #[command(flatten)]
    sessions: SessionArgs,
}

/// When officers' sessions expire.
#[derive(clap::Args)]
struct SessionArgs {
    /// Seconds a session stays signed in without use.
    #[arg(long, default_value_t = sessions::IDLE, value_parser = clap::value_parser!(i64).range(1..=86_400))]
    session_idle_secs: i64,
    /// Seconds a session stays signed in at most, in use or not.
    #[arg(long, default_value_t = sessions::ABSOLUTE, value_parser = clap::value_parser!(i64).range(1..=604_800))]
    session_max_secs: i64,
}

impl SessionArgs {
    fn expiry(&self) -> Expiry {
        Expiry {
            idle: self.session_idle_secs,
            absolute: self.session_max_secs,
        }
    }
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
        #[command(flatten)]
        sessions: SessionArgs,
    },
    /// A ready-to-try desk for a unit of `tipline-server --dev`'s directory, with a first
    /// supervisor account; prints the address and how to sign in. Not for real use: the store's
    /// passphrase is `dev`.
    Dev(DevArgs),
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

/// Stores an account made from the command line (no one signed in made it), with its audit
/// entry; its TOTP is enrolled at its first sign-in.
fn first_account(
    desk_store: &tipline_core::desk::DeskStore,
    name: &str,
    role: Role,
    password: &str,
) -> Result<()> {
    let account = Account {
        name: name.to_owned(),
        role,
        password_hash: password::hash(password, HashCost::default())?,
        totp_secret: None,
        totp_last_step: None,
        disabled: false,
        language: "en".into(),
        created_at: Utc::now(),
        created_by: None,
    };
    audit::append(
        desk_store,
        &AuditEntry::now(None, "account.add")
            .target(name)
            .detail(role.name()),
    )?;
    store_account(desk_store, &account)
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
    first_account(&desk_store, name, role, &password)?;
    println!(
        "Added {} {name}; they enrol their TOTP code at first sign-in.",
        role.name()
    );
    Ok(())
}

async fn serve(
    store: &StoreArgs,
    server: &str,
    authority: Option<&str>,
    listen: SocketAddr,
    sessions: Expiry,
) -> Result<()> {
    let authority = authority.map(authority_key).transpose()?;
    let keys = read_keys(&store.key)?;
    let passphrase = passphrase(store.passphrase_file.as_deref())?;
    let desk_store = open_store(&store.data_dir, &keys, &passphrase)?;
    drop(passphrase);
    serve_store(desk_store, keys, server, authority, listen, sessions).await
}

/// The store passphrase of a dev desk.
const DEV_PASSPHRASE: &str = "dev";
/// The first account of a dev desk.
const DEV_SUPERVISOR: &str = "supervisor";

/// A dev desk: the unit's key and the authority key from `tipline-server --dev`'s folder, a
/// store under a known passphrase, and a first supervisor whose password is printed once.
async fn dev(args: &DevArgs) -> Result<()> {
    let key_file = args.server_data.join("units").join(format!("{}.key", args.unit));
    if !key_file.is_file() {
        return Err(DeskError::Config(format!(
            "no key for unit {} in {}: start `tipline-server --dev --data-dir {}` first",
            args.unit,
            args.server_data.display(),
            args.server_data.display()
        )));
    }
    let keys = read_keys(&key_file)?;
    let authority = authority_key(&args.server_data.join("authority.pub").display().to_string())?;
    let desk_store = open_store(&args.data_dir, &keys, DEV_PASSPHRASE)?;
    let url = format!("http://{}", args.listen);
    println!("tipline-desk (dev): the desk of unit {} at {url}", args.unit);
    println!(
        "  store: {} (encrypted; its passphrase is \"{DEV_PASSPHRASE}\" here, a real desk takes it from \
         --passphrase-file or {})",
        args.data_dir.display(),
        tipline_desk::setup::PASSPHRASE_ENV
    );
    if load_accounts(&desk_store)?.is_empty() {
        let password = Zeroizing::new(tipline_core::encoding::b64(
            &tipline_core::crypto::random::random_array::<12>(&mut tipline_core::crypto::OsRandom::new())
                .map_err(tipline_core::Error::from)?,
        ));
        first_account(&desk_store, DEV_SUPERVISOR, Role::Supervisor, &password)?;
        println!(
            "  sign in as {DEV_SUPERVISOR} with the password {} (shown this once); the first sign-in \
             enrols a TOTP code from a QR code",
            password.as_str()
        );
    } else {
        println!(
            "  sign in with an account made before (the first supervisor's password was shown when it \
             was made; start again with an empty {} to get a new one)",
            args.data_dir.display()
        );
    }
    println!("  then file a report as a citizen: it appears in the inbox without a reload");
    serve_store(
        desk_store,
        keys,
        &args.server,
        Some(authority),
        args.listen,
        args.sessions.expiry(),
    )
    .await
}

async fn serve_store(
    desk_store: tipline_core::desk::DeskStore,
    keys: tipline_core::keys::UnitKeyFile,
    server: &str,
    authority: Option<tipline_core::keys::VerifyingKey>,
    listen: SocketAddr,
    sessions: Expiry,
) -> Result<()> {
    let desk = open_desk(desk_store, keys, server)?;
    let config = Config {
        authority,
        sessions,
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
    let bound = listener.local_addr()?;
    tracing::info!(listen = %bound, "desk listening");
    // On stdout for whoever started the desk (and for the tests, which listen on port 0).
    println!("desk listening on http://{bound}");
    let closing = state.clone();
    let (stop_receiving, receiving_stopped) = tokio::sync::oneshot::channel::<()>();
    let _labels = categories::spawn(state.clone());
    let receiving = receiver::spawn(state.clone(), async move {
        let _ = receiving_stopped.await;
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown().await;
            // Open pages' event streams end, so the shutdown does not wait on them.
            closing.close();
        })
        .await?;
    let _ = stop_receiving.send(());
    let _ = receiving.await;
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
    let default_dev = || DevArgs::parse_from(["dev"]);
    let result = match &cli.command {
        None if cli.dev => dev(&default_dev()).await,
        None => Err(DeskError::Config(
            "say what to do: serve, user add, or --dev (see --help)".into(),
        )),
        Some(Command::Dev(args)) => dev(args).await,
        Some(Command::Serve {
            store,
            server,
            authority_pub,
            listen,
            sessions,
        }) => {
            serve(
                store,
                server,
                authority_pub.as_deref(),
                *listen,
                sessions.expiry(),
            )
            .await
        }
        Some(Command::User {
            command:
                UserCommand::Add {
                    store,
                    name,
                    role,
                    password_file,
                },
        }) => add_user(store, name, *role, password_file.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tipline-desk: {e}");
            ExitCode::FAILURE
        }
    }
}
