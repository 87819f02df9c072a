//! Human-readable output by default, JSON with `--json`; errors on stderr either way.

use serde::Serialize;

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
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            println!("{}", text());
        }
        Ok(())
    }

    /// A line of the result for people (stdout); silent under `--json`.
    pub fn line(&self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    /// The JSON result for scripts; silent for people (who got it line by line).
    pub fn json_only<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
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
