//! Envelope v1: the sealed form of a report or a case message, as stored and relayed by the
//! server. Byte layout (all integers big-endian; `docs/protocol.md` is the reference):
//!
//! ```text
//! version u8 = 1 | suite u8 | kind u8 | unit_id_len u8 | unit_id | key_id [8] | message_id [16]
//! | enc [32] | ct_len u32 | ct
//! ```
//!
//! The header (version through message_id) is bound twice: inside `info`
//! (`"tipline envelope v1" || 0x00 || header`) and as the AEAD's `aad`, so a ciphertext cannot be
//! moved to another unit, key, kind or id. The plaintext is padded to a size bucket first.
#![deny(clippy::unwrap_used)]

use zeroize::Zeroizing;

use crate::crypto::random::RandomSource;
use crate::crypto::{padding, sha256, Context, CryptoError, OsRandom, Suite};
use crate::encoding::Reader;
use crate::keys::{EncryptionPublicKey, EncryptionSecretKey, KeyId, KEY_ID_LEN};
use crate::report::{Report, ReportId};
use crate::{Error, Result};

/// The only envelope version this build writes and reads.
pub const VERSION: u8 = 1;
/// Prefix of the HPKE `info` string.
pub const INFO_PREFIX: &[u8] = b"tipline envelope v1";
/// Longest unit id.
pub const MAX_UNIT_ID: usize = 64;
const ENC_LEN: usize = 32;
const ID_LEN: usize = 16;
/// Largest envelope this build accepts, in bytes.
pub const MAX_ENVELOPE: usize =
    4 + MAX_UNIT_ID + KEY_ID_LEN + ID_LEN + ENC_LEN + 4 + padding::MAX_PADDED + 16;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A new report, citizen to unit. `message_id` is the report id.
    Report = 1,
    /// A reporter's follow-up in a case, citizen to unit.
    FollowUp = 2,
    /// A unit's reply in a case, unit to citizen (sealed to the case's reply key).
    Reply = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Result<Self, CryptoError> {
        match b {
            1 => Ok(Kind::Report),
            2 => Ok(Kind::FollowUp),
            3 => Ok(Kind::Reply),
            _ => Err(CryptoError::UnsupportedVersion),
        }
    }
}

/// The envelope's suite byte.
fn suite_byte(suite: Suite) -> u8 {
    match suite.aead {
        crate::crypto::Aead::ChaCha20Poly1305 => 1,
        crate::crypto::Aead::Aes128Gcm => 2,
    }
}

fn suite_from_byte(b: u8) -> Result<Suite, CryptoError> {
    match b {
        1 => Ok(Suite::X25519_CHACHA),
        2 => Ok(Suite::X25519_AES128),
        _ => Err(CryptoError::UnsupportedVersion),
    }
}

/// Checks a unit id: 1 to 64 of `a-z`, `0-9`, `-`.
pub fn check_unit_id(unit_id: &str) -> Result<()> {
    let ok = !unit_id.is_empty()
        && unit_id.len() <= MAX_UNIT_ID
        && unit_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("unit_id", "must be 1 to 64 of a-z, 0-9 and -"))
    }
}

/// A sealed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The HPKE suite.
    pub suite: Suite,
    /// What it carries.
    pub kind: Kind,
    /// The unit it is for (reports, follow-ups) or from (replies).
    pub unit_id: String,
    /// The id of the recipient's X25519 key.
    pub key_id: KeyId,
    /// The report id or message id.
    pub message_id: [u8; ID_LEN],
    /// The HPKE encapsulated key.
    pub enc: [u8; ENC_LEN],
    /// The sealed, padded plaintext.
    pub ciphertext: Vec<u8>,
}

impl Envelope {
    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(4 + self.unit_id.len() + KEY_ID_LEN + ID_LEN);
        h.extend_from_slice(&[VERSION, suite_byte(self.suite), self.kind as u8]);
        // The unit id was checked to be at most 64 bytes when the envelope was made or parsed.
        h.push(self.unit_id.len() as u8);
        h.extend_from_slice(self.unit_id.as_bytes());
        h.extend_from_slice(&self.key_id.0);
        h.extend_from_slice(&self.message_id);
        h
    }

    fn info(header: &[u8]) -> Vec<u8> {
        [INFO_PREFIX, &[0], header].concat()
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.enc);
        // Ciphertexts are at most MAX_PADDED + 16 bytes, far below u32::MAX.
        out.extend_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// SHA-256 of the wire bytes: what a receipt names.
    pub fn digest(&self) -> [u8; 32] {
        sha256(&self.to_bytes())
    }

    /// Parses wire bytes strictly: the version and suite are checked before anything else, and
    /// any length that does not add up, or trailing bytes, is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader(bytes);
        if r.u8()? != VERSION {
            return Err(CryptoError::UnsupportedVersion);
        }
        let suite = suite_from_byte(r.u8()?)?;
        let kind = Kind::from_byte(r.u8()?)?;
        if bytes.len() > MAX_ENVELOPE {
            return Err(CryptoError::Malformed);
        }
        let unit_len = usize::from(r.u8()?);
        let unit_id = std::str::from_utf8(r.take(unit_len)?).map_err(|_| CryptoError::Malformed)?;
        check_unit_id(unit_id).map_err(|_| CryptoError::Malformed)?;
        let key_id = KeyId(r.array()?);
        let message_id = r.array()?;
        let enc = r.array()?;
        let ct_len = u32::from_be_bytes(r.array()?) as usize;
        let ciphertext = r.take(ct_len)?.to_vec();
        if !r.0.is_empty() || ct_len < padding::MIN_BUCKET + 16 {
            return Err(CryptoError::Malformed);
        }
        Ok(Envelope {
            suite,
            kind,
            unit_id: unit_id.to_owned(),
            key_id,
            message_id,
            enc,
            ciphertext,
        })
    }

    /// Parses an envelope carried as base64url text (as the API carries it), strictly.
    pub fn from_b64(text: &str) -> Result<Self, CryptoError> {
        Self::from_bytes(&crate::encoding::unb64(text)?)
    }

    /// Pads `plaintext` and seals it to `recipient`. Returns the envelope and the sender's HPKE
    /// context, whose exporter keys the attachments.
    #[allow(clippy::too_many_arguments)]
    pub fn seal_with_rng(
        suite: Suite,
        kind: Kind,
        unit_id: &str,
        recipient: &EncryptionPublicKey,
        message_id: [u8; ID_LEN],
        plaintext: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<(Envelope, Context)> {
        check_unit_id(unit_id)?;
        let padded = Zeroizing::new(padding::pad(plaintext).map_err(|_| {
            Error::invalid("plaintext", format!("larger than {} bytes", padding::MAX_MESSAGE))
        })?);
        let mut envelope = Envelope {
            suite,
            kind,
            unit_id: unit_id.to_owned(),
            key_id: recipient.key_id(),
            message_id,
            enc: [0; ENC_LEN],
            ciphertext: Vec::new(),
        };
        let header = envelope.header();
        let (enc, mut ctx) = suite.setup_sender_with_rng(&recipient.dalek(), &Self::info(&header), rng)?;
        envelope.enc = enc;
        envelope.ciphertext = ctx.seal(&header, &padded)?;
        Ok((envelope, ctx))
    }

    /// Opens with the recipient's private key and removes the padding. Returns the plaintext and
    /// the receiver's HPKE context (for the attachment keys).
    pub fn open(&self, recipient: &EncryptionSecretKey) -> Result<(Zeroizing<Vec<u8>>, Context)> {
        if self.key_id != recipient.public_key().key_id() {
            return Err(Error::invalid("envelope.key_id", "sealed to another key"));
        }
        let header = self.header();
        let mut ctx =
            self.suite
                .setup_receiver_with_key(&self.enc, recipient.receiver(), &Self::info(&header))?;
        let padded = ctx.open(&header, &self.ciphertext)?;
        let message = Zeroizing::new(padding::unpad(&padded)?.to_vec());
        Ok((message, ctx))
    }
}

/// A report sealed for a unit, with the sender's context for its attachments.
pub struct SealedReport {
    /// The report's id, its idempotency key on delivery.
    pub report_id: ReportId,
    /// The envelope to deliver.
    pub envelope: Envelope,
    /// Keys the attachments (see [`crate::attachment`]); drop it once they are encrypted.
    pub context: Context,
}

/// A report opened at a unit's desk, with the receiver's context for its attachments.
pub struct OpenedReport {
    /// The report's id.
    pub report_id: ReportId,
    /// The report.
    pub report: Report,
    /// Keys the attachments (see [`crate::attachment`]).
    pub context: Context,
}

/// Validates `report` and seals it to a unit with ChaCha20Poly1305 under a fresh report id.
pub fn seal_report(report: &Report, unit_id: &str, unit_key: &EncryptionPublicKey) -> Result<SealedReport> {
    let mut rng = OsRandom::new();
    let report_id = ReportId::random_with_rng(&mut rng)?;
    seal_report_with_rng(
        report,
        Suite::X25519_CHACHA,
        unit_id,
        unit_key,
        report_id,
        &mut rng,
    )
}

/// [`seal_report`] with every choice explicit, for tests and known answers.
pub fn seal_report_with_rng(
    report: &Report,
    suite: Suite,
    unit_id: &str,
    unit_key: &EncryptionPublicKey,
    report_id: ReportId,
    rng: &mut dyn RandomSource,
) -> Result<SealedReport> {
    report.validate()?;
    let json = Zeroizing::new(serde_json::to_vec(report)?);
    let (envelope, context) =
        Envelope::seal_with_rng(suite, Kind::Report, unit_id, unit_key, report_id.0, &json, rng)?;
    Ok(SealedReport {
        report_id,
        envelope,
        context,
    })
}

/// Opens a report envelope addressed to `unit_id` with the unit's private key, and checks the
/// report against the model's rules.
pub fn open_report(
    envelope: &Envelope,
    unit_id: &str,
    unit_key: &EncryptionSecretKey,
) -> Result<OpenedReport> {
    if envelope.kind != Kind::Report {
        return Err(Error::invalid("envelope.kind", "not a report"));
    }
    if envelope.unit_id != unit_id {
        return Err(Error::invalid("envelope.unit_id", "addressed to another unit"));
    }
    let (json, context) = envelope.open(unit_key)?;
    let report: Report = serde_json::from_slice(&json)?;
    report.validate()?;
    Ok(OpenedReport {
        report_id: ReportId(envelope.message_id),
        report,
        context,
    })
}
