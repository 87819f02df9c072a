//! Browser sessions, held in memory only (a restart signs everyone out): a random 256-bit id in
//! the cookie, a CSRF token per session, an idle expiry and an absolute one. A session starts
//! anonymous at the sign-in page and moves through the password and TOTP steps; signing in
//! replaces it with a new id, so an id seen before sign-in is worth nothing after.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::digest;
use tipline_core::crypto::hashes_equal;
use tipline_core::crypto::random::random_array;
use tipline_core::crypto::OsRandom;

use super::totp::Secret;
use crate::error::Result;

/// Idle expiry, seconds.
pub const IDLE: i64 = 30 * 60;
/// Absolute expiry, seconds.
pub const ABSOLUTE: i64 = 12 * 60 * 60;
/// Most sessions held at once; past this, the oldest anonymous ones go first.
const MAX_SESSIONS: usize = 10_000;

/// Where a session is in signing in.
#[derive(Debug, Clone)]
pub enum Stage {
    /// At the sign-in page.
    Anonymous,
    /// The password was right; the TOTP code is next.
    Password {
        /// The account.
        account: String,
    },
    /// The password was right and the account has no second factor yet: enrolling `secret`.
    Enroll {
        /// The account.
        account: String,
        /// The secret being enrolled.
        secret: Secret,
    },
    /// Signed in.
    SignedIn {
        /// The account.
        account: String,
    },
}

impl Stage {
    /// The account named so far.
    pub fn account(&self) -> Option<&str> {
        match self {
            Stage::Anonymous => None,
            Stage::Password { account } | Stage::Enroll { account, .. } | Stage::SignedIn { account } => {
                Some(account)
            }
        }
    }
}

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The id (also the cookie value).
    pub id: String,
    /// The CSRF token its forms carry.
    pub csrf: String,
    /// When it began (Unix seconds).
    pub created: i64,
    /// When it was last used.
    pub last_seen: i64,
    /// Where it is in signing in.
    pub stage: Stage,
}

impl Session {
    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        let a = digest::digest(&digest::SHA256, self.csrf.as_bytes());
        let b = digest::digest(&digest::SHA256, token.as_bytes());
        let (Ok(a), Ok(b)) = (<[u8; 32]>::try_from(a.as_ref()), <[u8; 32]>::try_from(b.as_ref())) else {
            return false;
        };
        hashes_equal(&a, &b)
    }
}

/// Why a session id gave no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No such session.
    Unknown,
    /// It expired; the account it was signed in as, if any.
    Expired(Option<String>),
}

fn random_hex() -> Result<String> {
    let bytes: [u8; 32] = random_array(&mut OsRandom::new()).map_err(tipline_core::Error::from)?;
    Ok(tipline_core::encoding::with_hex(&bytes, str::to_owned))
}

/// When sessions expire, in seconds: after `idle` without use, and `absolute` after sign-in
/// whatever happens (by default [`IDLE`] and [`ABSOLUTE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Seconds without use.
    pub idle: i64,
    /// Seconds after it started.
    pub absolute: i64,
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            idle: IDLE,
            absolute: ABSOLUTE,
        }
    }
}

/// Every live session.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    expiry: Expiry,
}

impl Sessions {
    /// No sessions yet; they expire after `expiry`.
    pub fn new(expiry: Expiry) -> Sessions {
        Sessions {
            map: Mutex::default(),
            expiry,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session at `stage`.
    pub fn start(&self, stage: Stage, now: i64) -> Result<Session> {
        let session = Session {
            id: random_hex()?,
            csrf: random_hex()?,
            created: now,
            last_seen: now,
            stage,
        };
        let mut map = self.map();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !expired(s, now, self.expiry) && !matches!(s.stage, Stage::Anonymous));
        }
        map.insert(session.id.clone(), session.clone());
        Ok(session)
    }

    /// The session `id`, marked as used now; an expired one is ended.
    pub fn touch(&self, id: &str, now: i64) -> Result<Session, Missing> {
        let mut map = self.map();
        let Some(session) = map.get_mut(id) else {
            return Err(Missing::Unknown);
        };
        if expired(session, now, self.expiry) {
            let account = session.stage.account().map(str::to_owned);
            map.remove(id);
            return Err(Missing::Expired(account));
        }
        session.last_seen = now;
        Ok(session.clone())
    }

    /// The session `id` without marking it as used (for what a page asks by itself, such as a
    /// refresh after a change notice, which must not keep an idle officer signed in); an expired
    /// one is ended.
    pub fn peek(&self, id: &str, now: i64) -> Result<Session, Missing> {
        let mut map = self.map();
        let Some(session) = map.get(id) else {
            return Err(Missing::Unknown);
        };
        if expired(session, now, self.expiry) {
            let account = session.stage.account().map(str::to_owned);
            map.remove(id);
            return Err(Missing::Expired(account));
        }
        Ok(session.clone())
    }

    /// Whether session `id` is still there and not expired, without counting this as a use
    /// (a page's open event stream must not keep its session alive).
    pub fn is_live(&self, id: &str, now: i64) -> bool {
        self.map().get(id).is_some_and(|s| !expired(s, now, self.expiry))
    }

    /// Moves session `id` to `stage`.
    pub fn set_stage(&self, id: &str, stage: Stage) {
        if let Some(session) = self.map().get_mut(id) {
            session.stage = stage;
        }
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        self.map().remove(id);
    }

    /// Ends every session of `account`; how many.
    pub fn end_account(&self, account: &str) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, s| s.stage.account() != Some(account));
        before - map.len()
    }
}

fn expired(session: &Session, now: i64, expiry: Expiry) -> bool {
    now - session.last_seen > expiry.idle || now - session.created > expiry.absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in() -> Stage {
        Stage::SignedIn {
            account: "anna".into(),
        }
    }

    #[test]
    fn test_idle_and_absolute_expiry() {
        let sessions = Sessions::default();
        let s = sessions.start(signed_in(), 0).unwrap();
        assert_eq!(s.id.len(), 64);
        // Used every 29 minutes: alive until 12 hours have passed.
        let mut now = 0;
        while now + 29 * 60 <= ABSOLUTE {
            now += 29 * 60;
            assert!(sessions.touch(&s.id, now).is_ok(), "at {now}");
        }
        assert_eq!(
            sessions.touch(&s.id, ABSOLUTE + 1).unwrap_err(),
            Missing::Expired(Some("anna".into()))
        );
        assert_eq!(sessions.touch(&s.id, ABSOLUTE + 2).unwrap_err(), Missing::Unknown);
        // Left alone for more than 30 minutes: gone.
        let t = sessions.start(signed_in(), 0).unwrap();
        assert!(sessions.is_live(&t.id, IDLE));
        assert!(!sessions.is_live(&t.id, IDLE + 1));
        assert!(sessions.touch(&t.id, IDLE + 1).is_err());
    }

    #[test]
    fn test_shorter_expiry_as_configured() {
        let sessions = Sessions::new(Expiry {
            idle: 5,
            absolute: 12,
        });
        let s = sessions.start(signed_in(), 0).unwrap();
        assert!(sessions.touch(&s.id, 5).is_ok());
        assert!(sessions.touch(&s.id, 10).is_ok());
        assert!(sessions.is_live(&s.id, 12));
        assert!(!sessions.is_live(&s.id, 13), "past the absolute expiry");
        let t = sessions.start(signed_in(), 0).unwrap();
        assert!(sessions.peek(&t.id, 5).is_ok());
        assert_eq!(
            sessions.peek(&t.id, 6).unwrap_err(),
            Missing::Expired(Some("anna".into())),
            "a peek is not a use"
        );
    }

    #[test]
    fn test_csrf_tokens_match_only_themselves_and_accounts_end() {
        let sessions = Sessions::default();
        let s = sessions.start(signed_in(), 0).unwrap();
        assert!(s.csrf_matches(&s.csrf.clone()));
        assert!(!s.csrf_matches(""));
        assert_ne!(s.csrf, sessions.start(Stage::Anonymous, 0).unwrap().csrf);
        assert_eq!(sessions.end_account("anna"), 1);
        assert!(sessions.touch(&s.id, 1).is_err());
    }
}
