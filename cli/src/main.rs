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
    /// Show a report travel from citizen to desk and a reply come back, step by step.
    Demo,
    /// Seal and open envelopes: test another implementation against this one.
    #[command(subcommand)]
    Envelope(cmd::envelope::EnvelopeCommand),
    /// Create a unit's key pairs and show their public part for the directory.
    #[command(subcommand)]
    Unit(cmd::unit::UnitCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Demo => cmd::demo::run(&out),
        Command::Envelope(c) => cmd::envelope::run(c, &out),
        Command::Unit(c) => cmd::unit::run(c, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::FAILURE
        }
    }
}
