//! The attachment files of the store: each attachment is a file under `files/`, cut into the
//! wire form's 64 KiB chunks (by [`crate::attachment`]'s writer and reader) and each chunk sealed
//! with the store's key, its position and a last flag bound in, so a file cannot be reordered or
//! cut short unnoticed. Written to a `.part` file and renamed once whole, so a stored copy is
//! always complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::DeskStore;
use crate::attachment::{read_chunks, ChunkWriter, SealChunk, CHUNK_SIZE};
use crate::client::vault::Vault;
use crate::crypto::CryptoError;
use crate::report::{AttachmentInfo, ReportId};
use crate::{Error, Result};

impl DeskStore {
    fn attachment_path(&self, report_id: ReportId, index: u16) -> PathBuf {
        self.dir.join("files").join(format!("{report_id}-{index}.sealed"))
    }

    /// A scratch file in the store's folder (for downloads and re-sealed uploads), removed by
    /// the caller.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.dir.join("files").join(format!(".{name}.tmp"))
    }

    /// A writer that seals an attachment's plaintext at rest; [`AttachmentWriter::finish`] makes
    /// it the stored copy, anything else leaves none.
    pub fn attachment_writer(&self, report_id: ReportId, index: u16) -> Result<AttachmentWriter<'_>> {
        let path = self.attachment_path(report_id, index);
        let part = path.with_extension("part");
        let sealer = AtRest {
            vault: &self.vault,
            record: format!("attachment:{report_id}:{index}"),
        };
        Ok(AttachmentWriter {
            chunks: ChunkWriter::new(sealer, std::fs::File::create(&part)?),
            part,
            path,
        })
    }

    /// Writes an attachment's plaintext from the store into `out`; returns its size.
    pub fn read_attachment(&self, report_id: ReportId, index: u16, out: &mut impl Write) -> Result<u64> {
        let mut file = std::fs::File::open(self.attachment_path(report_id, index))?;
        let record = format!("attachment:{report_id}:{index}");
        let mut total = 0u64;
        read_chunks(&mut file, CHUNK_SIZE + Vault::OVERHEAD, |chunk, last, sealed| {
            let plain = self
                .vault
                .open(chunk_record(&record, chunk, last).as_bytes(), sealed)
                .map_err(|_| Error::invalid("desk store", "an attachment file is damaged"))?;
            out.write_all(&plain)?;
            total += plain.len() as u64;
            Ok(())
        })?;
        Ok(total)
    }

    /// Writes an attachment to `path` after checking its size and SHA-256 against the report;
    /// nothing is left at `path` if the check fails.
    pub fn export_attachment(&self, report_id: ReportId, info: &AttachmentInfo, path: &Path) -> Result<()> {
        let part = path.with_extension("part");
        let mut writer = HashingWriter {
            inner: std::io::BufWriter::new(std::fs::File::create(&part)?),
            hasher: ring::digest::Context::new(&ring::digest::SHA256),
        };
        let result = self.read_attachment(report_id, info.index, &mut writer);
        let HashingWriter { mut inner, hasher } = writer;
        let ok = match result {
            Ok(size) => size == info.size && hasher.finish().as_ref() == info.sha256,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        if !ok {
            let _ = std::fs::remove_file(&part);
            return Err(Error::invalid(
                format!("attachments[{}]", info.index),
                "does not match the size and SHA-256 in the report",
            ));
        }
        inner.flush()?;
        drop(inner);
        std::fs::rename(&part, path)?;
        Ok(())
    }
}
fn chunk_record(record: &str, chunk: u64, last: bool) -> String {
    format!("{record}:{chunk}:{}", u8::from(last))
}

/// Seals a stored attachment's chunks with the store's key, each under its own record name
/// (the attachment, the chunk's number and its last flag) and a random nonce; the chunking is
/// the wire form's.
struct AtRest<'a> {
    vault: &'a Vault,
    record: String,
}

impl SealChunk for AtRest<'_> {
    fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        *buf = self
            .vault
            .seal(chunk_record(&self.record, chunk, last).as_bytes(), buf)?;
        Ok(())
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: ring::digest::Context,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Seals an attachment's plaintext at rest, chunk by chunk; memory stays at two chunks.
pub struct AttachmentWriter<'a> {
    chunks: ChunkWriter<AtRest<'a>, std::fs::File>,
    part: PathBuf,
    path: PathBuf,
}

impl AttachmentWriter<'_> {
    /// Seals the last chunk, syncs, and puts the file in place.
    pub fn finish(self) -> Result<()> {
        let file = self.chunks.finish()?;
        file.sync_all()?;
        std::fs::rename(&self.part, &self.path)?;
        Ok(())
    }

    /// Drops what was written.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.part);
    }
}

impl Write for AttachmentWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunks.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.chunks.flush()
    }
}
