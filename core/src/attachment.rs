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

/// Seals one chunk in place: `buf` holds chunk `chunk`'s plaintext and is left holding its
/// sealed form. [`ChunkWriter`] decides which chunk is last; a sealer only binds the flag in.
///
/// The wire form is [`AttachmentKey`]'s (section 7.2 of the protocol); the desk's store seals its
/// files at rest with a scheme of its own through the same writer.
pub trait SealChunk {
    /// Seals chunk `chunk` (`last` set for the final one) in place.
    fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError>;
}

impl SealChunk for AttachmentKey {
    fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        AttachmentKey::seal_chunk(self, chunk, last, buf)
    }
}

impl<S: SealChunk + ?Sized> SealChunk for &S {
    fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        (**self).seal_chunk(chunk, last, buf)
    }
}

/// Seals the plaintext written to it in chunks of [`CHUNK_SIZE`] as it arrives, numbered from 0,
/// and writes each sealed chunk to `out`; it holds one chunk at a time, whatever the size.
/// [`ChunkWriter::finish`] seals the last chunk, so nothing is complete without it.
///
/// This is the one place that applies section 7.3's rule on the writing side: a full chunk is
/// sealed as not last only once more plaintext shows that it is not, so an attachment of exactly
/// `k` full chunks ends with the `k`-th marked last (no empty chunk follows), and an empty one is
/// a single empty last chunk. A failure to seal comes out as an I/O error wrapping the
/// [`CryptoError`].
pub struct ChunkWriter<S: SealChunk, W: Write> {
    sealer: S,
    out: W,
    pending: Vec<u8>,
    chunk: u64,
}

impl<S: SealChunk, W: Write> ChunkWriter<S, W> {
    /// A writer that seals with `sealer` into `out`.
    pub fn new(sealer: S, out: W) -> Self {
        Self {
            sealer,
            out,
            pending: Vec::with_capacity(SEALED_CHUNK_SIZE),
            chunk: 0,
        }
    }

    fn seal(&mut self, last: bool) -> std::io::Result<()> {
        let mut buf = std::mem::take(&mut self.pending);
        self.sealer
            .seal_chunk(self.chunk, last, &mut buf)
            .map_err(std::io::Error::other)?;
        self.out.write_all(&buf)?;
        buf.clear();
        self.pending = buf;
        self.chunk += 1;
        Ok(())
    }

    /// Seals the last chunk and hands back the output, not flushed.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.seal(true)?;
        Ok(self.out)
    }
}

impl<S: SealChunk, W: Write> Write for ChunkWriter<S, W> {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let total = buf.len();
        while !buf.is_empty() {
            // A full chunk is sealed only once more data shows it is not the last one.
            if self.pending.len() == CHUNK_SIZE {
                self.seal(false)?;
            }
            let take = (CHUNK_SIZE - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(total)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Cuts a sealed stream into its chunks and hands each to `open` with its number and last flag:
/// every chunk but the last is `sealed_chunk` bytes, the last the rest (at most `sealed_chunk`).
/// This is section 7.4's step 1, the reading side of the rule in [`ChunkWriter`]; memory stays at
/// one chunk. `open` gets the chunk's sealed bytes and may open them in place.
pub(crate) fn read_chunks(
    sealed: &mut impl Read,
    sealed_chunk: usize,
    mut open: impl FnMut(u64, bool, &mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut current = Vec::with_capacity(sealed_chunk + 1);
    let mut chunk = 0u64;
    // One byte beyond a full chunk tells whether another chunk follows.
    fill(sealed, &mut current, sealed_chunk + 1)?;
    loop {
        let last = current.len() <= sealed_chunk;
        let carry = if last { None } else { current.pop() };
        open(chunk, last, &mut current)?;
        let Some(carry) = carry else {
            return Ok(());
        };
        current.clear();
        current.push(carry);
        fill(sealed, &mut current, sealed_chunk + 1)?;
        chunk += 1;
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
    let mut writer = ChunkWriter::new(key, sealed);
    let mut buf = Vec::with_capacity(CHUNK_SIZE);
    let mut total = 0u64;
    loop {
        buf.clear();
        fill(plaintext, &mut buf, CHUNK_SIZE)?;
        if buf.is_empty() {
            break;
        }
        total += buf.len() as u64;
        writer.write_all(&buf).map_err(sealing_error)?;
    }
    writer.finish().map_err(sealing_error)?;
    Ok(total)
}

/// A chunk that fails to seal comes out of [`ChunkWriter`] as an I/O error (it is a `Write`):
/// give it back its own kind, as a crypto error.
fn sealing_error(e: std::io::Error) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<CryptoError>()) {
        Some(crypto) => Error::Crypto(*crypto),
        None => Error::Io(e),
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
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut total = 0u64;
    read_chunks(sealed, SEALED_CHUNK_SIZE, |chunk, last, current| {
        key.open_chunk(chunk, last, current)?;
        // Only an empty attachment has an empty last chunk: one encoding per attachment.
        if last && chunk > 0 && current.is_empty() {
            return Err(Error::from(CryptoError::Malformed));
        }
        total += current.len() as u64;
        if total > info.size {
            return Err(Error::from(CryptoError::Malformed));
        }
        hasher.update(current);
        plaintext.write_all(current)?;
        Ok(())
    })?;
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Records each chunk it is asked to seal and "seals" it by appending its number and flag.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<(u64, bool, usize)>>);

    impl SealChunk for Recorder {
        fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
            self.0.borrow_mut().push((chunk, last, buf.len()));
            buf.extend_from_slice(&chunk.to_be_bytes());
            buf.push(u8::from(last));
            Ok(())
        }
    }

    fn chunks_written(size: usize, piece: usize) -> (Vec<(u64, bool, usize)>, Vec<u8>) {
        let recorder = Recorder::default();
        let mut writer = ChunkWriter::new(&recorder, Vec::new());
        let data = vec![7u8; size];
        for part in data.chunks(piece) {
            writer.write_all(part).unwrap();
        }
        let out = writer.finish().unwrap();
        (recorder.0.into_inner(), out)
    }

    #[test]
    fn test_chunk_writer_marks_the_last_chunk_as_section_7_3_says() {
        // Given attachments at the edges of a chunk, written in pieces of several sizes
        for piece in [1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1] {
            // When they are sealed, then only the final chunk is last, and no empty chunk
            // follows a full one.
            assert_eq!(chunks_written(0, piece).0, [(0, true, 0)]);
            assert_eq!(chunks_written(100, piece).0, [(0, true, 100)]);
            assert_eq!(chunks_written(CHUNK_SIZE, piece).0, [(0, true, CHUNK_SIZE)]);
            assert_eq!(
                chunks_written(CHUNK_SIZE + 1, piece).0,
                [(0, false, CHUNK_SIZE), (1, true, 1)]
            );
            assert_eq!(
                chunks_written(2 * CHUNK_SIZE, piece).0,
                [(0, false, CHUNK_SIZE), (1, true, CHUNK_SIZE)]
            );
        }
    }

    #[test]
    fn test_read_chunks_cuts_what_the_writer_wrote() {
        for size in [0, 100, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5] {
            // Given a stream the writer sealed (each chunk 9 bytes longer)
            let (written, out) = chunks_written(size, 4096);
            // When it is cut again
            let mut read = Vec::new();
            read_chunks(&mut &out[..], CHUNK_SIZE + 9, |chunk, last, sealed| {
                read.push((chunk, last, sealed.len() - 9));
                Ok(())
            })
            .unwrap();
            // Then every chunk comes back with its number and flag
            assert_eq!(read, written, "size {size}");
        }
    }
}
