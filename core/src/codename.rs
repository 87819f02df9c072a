//! Case codenames: eight words the reporter keeps, from which everything needed to follow a case
//! is derived, so that a reporter who loses the phone can pick the case up on another device.
//!
//! Words come from the BIP-39 English list (2048 words, 11 bits each): eight words carry 88 bits.
//! Every word is unique in its first four letters, so the reporter may type just those. A
//! codename given to a reporter never holds one of the [`AVOIDED`] words (weapons, violence,
//! policing, crime): a codename is drawn again if it does, which leaves about 87.7 bits. Every
//! word of the list still parses.
//!
//! ```text
//! ikm         = I2OSP(w1, 2) || ... || I2OSP(w8, 2)        word indices in the list
//! prk         = HKDF-Extract(salt = "tipline codename v1", ikm)
//! case_id     = HKDF-Expand(prk, "tipline case id", 16)
//! case_secret = HKDF-Expand(prk, "tipline case secret", 32)
//! reply_key   = X25519 private key from HKDF-Expand(prk, "tipline reply key", 32)
//! ```
#![deny(clippy::unwrap_used)]

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::crypto::kdf;
use crate::crypto::random::RandomSource;
use crate::crypto::{sha256, CryptoError, OsRandom};
use crate::keys::EncryptionSecretKey;
use crate::report::CaseId;
use crate::{Error, Result};

/// Words in a codename.
pub const WORDS: usize = 8;
/// Bits of one draw of eight words. A generated codename has a little less entropy (about 87.7
/// bits), since draws with an [`AVOIDED`] word are drawn again.
pub const BITS: u32 = 88;
const SALT: &[u8] = b"tipline codename v1";
/// Draws of a whole codename before generation gives up on a random source that keeps giving
/// avoided words (a fair one needs more than 10 about once in 10^8 codenames).
const MAX_DRAWS: usize = 64;

/// Words of the list that a generated codename never holds: a reporter writes the codename down
/// and carries it, and someone who finds "rifle police bomb" on a note or a phone should not
/// read it as a threat or a police matter, nor should the reporter be alarmed by it. Sorted.
pub const AVOIDED: [&str; 52] = [
    "abuse", "armed", "army", "arrest", "arrow", "assault", "attack", "battle", "blast", "blood", "bomb",
    "bullet", "bunker", "cannon", "crime", "cruel", "danger", "destroy", "enemy", "evil", "fatal", "fury",
    "guilt", "gun", "horror", "illegal", "injury", "judge", "kick", "knife", "panic", "pistol", "police",
    "prison", "punch", "rifle", "riot", "rocket", "scare", "sheriff", "shoot", "siege", "soldier", "spy",
    "strike", "suspect", "sword", "trap", "trigger", "warrior", "weapon", "wreck",
];

fn word_list() -> &'static [&'static str; 2048] {
    bip39::Language::English.word_list()
}

/// A case codename: eight word indices. Shown as words separated by spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct Codename([u16; WORDS]);

impl Drop for Codename {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Codename {
    /// A fresh codename from the operating system's random source.
    pub fn generate() -> Result<Self> {
        Self::generate_with_rng(&mut OsRandom::new())
    }

    /// A fresh codename from `rng`, with none of the [`AVOIDED`] words: drawn (see
    /// [`Codename::draw_with_rng`]) again until it has none.
    pub fn generate_with_rng(rng: &mut dyn RandomSource) -> Result<Self> {
        for _ in 0..MAX_DRAWS {
            let codename = Self::draw_with_rng(rng)?;
            if !codename.has_avoided_word() {
                return Ok(codename);
            }
        }
        // A fair source practically never gets here; one that does is not random.
        Err(Error::Crypto(CryptoError::Random))
    }

    /// One draw of eight words from 16 random bytes (docs/protocol.md 8.2), any words of the
    /// list: for test vectors; a reporter is given [`Codename::generate`]'s.
    pub fn draw_with_rng(rng: &mut dyn RandomSource) -> Result<Self> {
        let mut raw = Zeroizing::new([0u8; 2 * WORDS]);
        rng.fill(raw.as_mut())?;
        let mut words = [0u16; WORDS];
        for (w, pair) in words.iter_mut().zip(raw.chunks_exact(2)) {
            *w = u16::from_be_bytes([pair[0], pair[1]]) & 0x07ff;
        }
        Ok(Codename(words))
    }

    /// Parses a codename as a person types it: any case, words separated by spaces, hyphens,
    /// commas or dots, each word whole or its first four letters.
    pub fn parse(text: &str) -> Result<Self> {
        let lower = Zeroizing::new(text.to_lowercase());
        let parts: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || matches!(c, '-' | ',' | '.'))
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() != WORDS {
            return Err(Error::invalid(
                "codename",
                format!("must have {WORDS} words, found {}", parts.len()),
            ));
        }
        let mut words = [0u16; WORDS];
        for (i, part) in parts.iter().enumerate() {
            words[i] = find_word(part).ok_or_else(|| {
                Error::invalid("codename", format!("word {} is not in the word list", i + 1))
            })?;
        }
        Ok(Codename(words))
    }

    /// Whether one of the words is one of the [`AVOIDED`].
    fn has_avoided_word(&self) -> bool {
        let list = word_list();
        self.0
            .iter()
            .any(|&i| AVOIDED.binary_search(&list[usize::from(i)]).is_ok())
    }

    /// The words, separated by single spaces.
    pub fn to_phrase(&self) -> Zeroizing<String> {
        let list = word_list();
        Zeroizing::new(
            self.0
                .iter()
                .map(|&i| list[usize::from(i)])
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// Derives the case's id, secret and reply key.
    pub fn derive(&self) -> Result<CaseKeys> {
        let mut ikm = Zeroizing::new([0u8; 2 * WORDS]);
        for (pair, w) in ikm.chunks_exact_mut(2).zip(self.0) {
            pair.copy_from_slice(&w.to_be_bytes());
        }
        let prk = kdf::extract(SALT, &[ikm.as_ref()]);
        let mut case_id = [0u8; 16];
        kdf::expand(&prk, &[b"tipline case id"], &mut case_id)?;
        let mut case_secret = Zeroizing::new([0u8; 32]);
        kdf::expand(&prk, &[b"tipline case secret"], case_secret.as_mut())?;
        let mut reply = Zeroizing::new([0u8; 32]);
        kdf::expand(&prk, &[b"tipline reply key"], reply.as_mut())?;
        Ok(CaseKeys {
            case_id: CaseId(case_id),
            case_secret,
            reply_key: EncryptionSecretKey::from_bytes(*reply),
        })
    }
}

fn find_word(part: &str) -> Option<u16> {
    let list = word_list();
    let found = if part.len() >= 4 && part.is_char_boundary(4) {
        let prefix = &part[..4];
        list.iter()
            .position(|w| w.starts_with(prefix) && (part.len() == 4 || *w == part))
    } else {
        list.iter().position(|w| *w == part)
    };
    found.and_then(|i| u16::try_from(i).ok())
}

impl fmt::Debug for Codename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Codename(..)")
    }
}

/// What a codename yields.
pub struct CaseKeys {
    /// The case id, known to the server and the unit.
    pub case_id: CaseId,
    /// Proves the right to read and post in the case; the server keeps only its hash.
    pub case_secret: Zeroizing<[u8; 32]>,
    /// Opens the unit's replies.
    pub reply_key: EncryptionSecretKey,
}

impl CaseKeys {
    /// SHA-256 of the case secret: what the server stores to check it.
    pub fn case_secret_hash(&self) -> [u8; 32] {
        sha256(self.case_secret.as_ref())
    }
}

impl fmt::Debug for CaseKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseKeys({}, ..)", self.case_id)
    }
}
