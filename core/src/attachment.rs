//! Attachments: photos, audio and video travel beside the envelope, encrypted in fixed-size
//! chunks under keys from the report's HPKE exporter, so that a video never sits whole in memory.
//!
//! For attachment `i` of a report, with the report's HPKE context:
//!
//! ```text
//! key      = Export("tipline attachment v1" || 0x00 || I2OSP(i, 2), Nk)
//! nonce(n) = I2OSP(0, 4) || I2OSP(n, 8)                       n = chunk index from 0
//! aad(n)   = "tipline chunk v1" || I2OSP(i, 2) || I2OSP(n, 8) || last (0x00 or 0x01)
//! ```
//!
//! Every chunk but the last holds exactly [`CHUNK_SIZE`] plaintext bytes; the last holds 1 to
//! `CHUNK_SIZE` bytes (0 only for an empty attachment) and has `last = 1`. The index in the nonce
//! and aad detects reordering, the flag detects truncation, and the per-attachment key (from a
//! per-report context) detects chunks swapped between attachments or reports.
#![deny(clippy::unwrap_used)]

use std::io::{Read, Write};

use ring::aead;
use zeroize::Zeroizing;

use crate::crypto::{Context, CryptoError};
use crate::report::AttachmentInfo;
use crate::{Error, Result};

/// Plaintext bytes per chunk.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Bytes a chunk grows by when sealed.
pub const TAG_LEN: usize = 16;
/// Sealed bytes per full chunk.
pub const SEALED_CHUNK_SIZE: usize = CHUNK_SIZE + TAG_LEN;
const KEY_LABEL: &[u8] = b"tipline attachment v1";
const AAD_LABEL: &[u8] = b"tipline chunk v1";

/// The size of an attachment of `size` plaintext bytes once sealed.
pub fn sealed_size(size: u64) -> u64 {
    let chunks = size.div_ceil(CHUNK_SIZE as u64).max(1);
    size + chunks * TAG_LEN as u64
}

/// The key of one attachment, derived from the report's HPKE context.
pub struct AttachmentKey {
    key: aead::LessSafeKey,
    index: u16,
}

impl AttachmentKey {
    /// Derives the key of attachment `index` from the report's HPKE context.
    pub fn derive(context: &Context, index: u16) -> Result<Self, CryptoError> {
        let aead = context.suite().aead;
        let mut key = Zeroizing::new(vec![0u8; aead.key_len()]);
        let mut exporter_context = Vec::with_capacity(KEY_LABEL.len() + 3);
        exporter_context.extend_from_slice(KEY_LABEL);
        exporter_context.push(0);
        exporter_context.extend_from_slice(&index.to_be_bytes());
        context.export(&exporter_context, &mut key)?;
        let unbound = aead::UnboundKey::new(aead.algorithm(), &key).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            key: aead::LessSafeKey::new(unbound),
            index,
        })
    }

    fn nonce(chunk: u64) -> aead::Nonce {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&chunk.to_be_bytes());
        aead::Nonce::assume_unique_for_key(nonce)
    }

    fn aad(&self, chunk: u64, last: bool) -> [u8; 27] {
        let mut aad = [0u8; 27];
        aad[..16].copy_from_slice(AAD_LABEL);
        aad[16..18].copy_from_slice(&self.index.to_be_bytes());
        aad[18..26].copy_from_slice(&chunk.to_be_bytes());
        aad[26] = u8::from(last);
        aad
    }

    /// Seals one chunk in place (`buf` grows by [`TAG_LEN`]).
    pub fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        if buf.len() > CHUNK_SIZE || (!last && buf.len() != CHUNK_SIZE) {
            return Err(CryptoError::Malformed);
        }
        self.key
            .seal_in_place_append_tag(Self::nonce(chunk), aead::Aad::from(self.aad(chunk, last)), buf)
            .map_err(|_| CryptoError::MessageLimit)
    }

    /// Opens one chunk in place (`buf` shrinks by [`TAG_LEN`]).
    pub fn open_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        let len = self
            .key
            .open_in_place(Self::nonce(chunk), aead::Aad::from(self.aad(chunk, last)), buf)
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buf.truncate(len);
        if !last && len != CHUNK_SIZE {
            return Err(CryptoError::Malformed);
        }
        Ok(())
    }
}

/// Reads until `buf` holds `want` bytes or the reader is exhausted.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
    while buf.len() < want {
        let start = buf.len();
        buf.resize(want, 0);
        match reader.read(&mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(());
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Encrypts an attachment from `plaintext` into `sealed`, one chunk at a time; memory use is two
/// chunks whatever the size. Returns the number of plaintext bytes read.
pub fn encrypt(key: &AttachmentKey, plaintext: &mut impl Read, sealed: &mut impl Write) -> Result<u64> {
    let mut current = Vec::with_capacity(SEALED_CHUNK_SIZE);
    let mut next = Vec::with_capacity(SEALED_CHUNK_SIZE);
    fill(plaintext, &mut current, CHUNK_SIZE)?;
    let mut total = 0u64;
    let mut chunk = 0u64;
    loop {
        // Only a full chunk can have a successor: look ahead to learn whether this one is last.
        next.clear();
        if current.len() == CHUNK_SIZE {
            fill(plaintext, &mut next, CHUNK_SIZE)?;
        }
        let last = next.is_empty();
        total += current.len() as u64;
        key.seal_chunk(chunk, last, &mut current)?;
        sealed.write_all(&current)?;
        if last {
            return Ok(total);
        }
        std::mem::swap(&mut current, &mut next);
        chunk += 1;
    }
}

/// Decrypts an attachment from `sealed` into `plaintext`, checking it against the report's
/// description: every chunk authentic and in order, the last chunk marked, and the size and
/// SHA-256 as described. Nothing is written past the first chunk that fails.
pub fn decrypt(
    key: &AttachmentKey,
    info: &AttachmentInfo,
    sealed: &mut impl Read,
    plaintext: &mut impl Write,
) -> Result<()> {
    let mut current = Vec::with_capacity(SEALED_CHUNK_SIZE + 1);
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut total = 0u64;
    let mut chunk = 0u64;
    // One byte beyond a full chunk tells whether another chunk follows.
    fill(sealed, &mut current, SEALED_CHUNK_SIZE + 1)?;
    loop {
        let last = current.len() <= SEALED_CHUNK_SIZE;
        let carry = if last { None } else { current.pop() };
        key.open_chunk(chunk, last, &mut current)?;
        // Only an empty attachment has an empty last chunk: one encoding per attachment.
        if last && chunk > 0 && current.is_empty() {
            return Err(Error::from(CryptoError::Malformed));
        }
        total += current.len() as u64;
        if total > info.size {
            return Err(Error::from(CryptoError::Malformed));
        }
        hasher.update(&current);
        plaintext.write_all(&current)?;
        let Some(carry) = carry else { break };
        current.clear();
        current.push(carry);
        fill(sealed, &mut current, SEALED_CHUNK_SIZE + 1)?;
        chunk += 1;
    }
    if total != info.size || hasher.finish().as_ref() != info.sha256 {
        return Err(Error::invalid(
            format!("attachments[{}]", info.index),
            "does not match the size and SHA-256 in the report",
        ));
    }
    Ok(())
}

/// Describes an attachment for the report: reads it once for its size and SHA-256.
pub fn describe(index: u16, name: &str, media_type: &str, data: &mut impl Read) -> Result<AttachmentInfo> {
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut size = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(hasher.finish().as_ref());
    Ok(AttachmentInfo {
        index,
        name: base.to_owned(),
        media_type: media_type.to_owned(),
        size,
        sha256,
    })
}
