//! Human-readable output by default, JSON with `--json`; errors on stderr either way.
//!
//! Everything for stdout goes through [`print`], which ends the process quietly when stdout is a
//! pipe its reader closed (`tipline ... | head`): the reader wanted no more, so there is nothing
//! to report and no panic.

use std::io::Write as _;

use serde::Serialize;

/// Writes `text` and a newline to stdout; exits quietly (status 0) if the reader is gone.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        // Another failure of stdout (a full disk behind a redirection): say so where it can
        // still be read, and stop.
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            std::process::exit(1)
        }
    }
}

/// Where results go.
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether scripts asked for JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a result: `text` for people, `value` as JSON for scripts.
    pub fn result<T: Serialize>(&self, text: impl FnOnce() -> String, value: &T) -> anyhow::Result<()> {
        if self.json {
            print(&serde_json::to_string_pretty(value)?);
        } else {
            print(&text());
        }
        Ok(())
    }

    /// A line of the result for people (stdout); silent under `--json`.
    pub fn line(&self, text: &str) {
        if !self.json {
            print(text);
        }
    }

    /// The JSON result for scripts; silent for people (who got it line by line).
    pub fn json_only<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        if self.json {
            print(&serde_json::to_string_pretty(value)?);
        }
        Ok(())
    }

    /// A progress or context line for people (stderr); silent under `--json`.
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }

    /// Prints an error with its chain of causes.
    pub fn error(&self, err: &anyhow::Error) {
        if self.json {
            let chain: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("{}", serde_json::json!({ "error": chain.join(": ") }));
        } else {
            eprintln!("error: {err:#}");
        }
    }
}
