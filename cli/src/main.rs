//! `tipline`: the desktop tool for the authority, the unit desk, and developers.

mod cmd;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tipline's desktop tool: authority, unit desk, and citizen mode for developers.
#[derive(Parser)]
#[command(name = "tipline", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the whole system work: server, authority, citizen and two desks, step by step.
    Demo,
    /// The authority: its key, and the directory it signs, publishes and checks.
    #[command(subcommand)]
    Authority(cmd::authority::AuthorityCommand),
    /// Create a unit's key pairs and show their public part for the directory.
    #[command(subcommand)]
    Unit(cmd::unit::UnitCommand),
    /// A unit's desk: live inbox, reports, replies, transfers, alerts.
    Desk(cmd::desk::DeskArgs),
    /// The citizen's app on the desktop, for developers: report, outbox, case, alerts, hotlines.
    Citizen(cmd::citizen::CitizenArgs),
    /// Seal and open envelopes: test another implementation against this one.
    #[command(subcommand)]
    Envelope(cmd::envelope::EnvelopeCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            runtime.block_on(async {
                match cli.command {
                    Command::Demo => cmd::demo::run(&out).await,
                    Command::Authority(c) => cmd::authority::run(c, &out).await,
                    Command::Unit(c) => cmd::unit::run(c, &out),
                    Command::Desk(args) => cmd::desk::run(args, &out).await,
                    Command::Citizen(args) => cmd::citizen::run(args, &out).await,
                    Command::Envelope(c) => cmd::envelope::run(c, &out),
                }
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::FAILURE
        }
    }
}
