//! Officers' accounts, kept as sealed JSON documents (kind `account`, id the account name) in the
//! desk store and held in memory while the desk runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DeskError, Result};

/// The store's document kind of accounts.
pub const KIND: &str = "account";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works on reports.
    Officer,
    /// Works on reports, manages accounts, reads the audit log.
    Supervisor,
}

impl Role {
    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
        }
    }

    /// Parses a name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "officer" => Some(Role::Officer),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

/// An officer's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// The sign-in name, also the account's id.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Argon2id hash of the password, PHC string.
    pub password_hash: String,
    /// The TOTP secret (base32) once enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// The TOTP step of the last code accepted, so no code is used twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_last_step: Option<u64>,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// The language the officer picked (`es`, `da`, `en`, `ar`).
    pub language: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it (`None` from the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// Checks an account name: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(DeskError::invalid(
            "name",
            "1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_account_names() {
        assert!(check_name("anna.b-2").is_ok());
        for bad in ["", "Anna", "-x", "a/b", "a b", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
