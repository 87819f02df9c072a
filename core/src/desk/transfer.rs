//! Handing a report and its case to another unit. The server cannot re-address a report (it
//! never holds a key), so the desk does: it seals the report again, to the other unit's key from
//! the verified directory and under the same report id, and encrypts each attachment again under
//! keys from that new envelope, exactly as a citizen's device would. The other unit's desk
//! therefore receives an ordinary report (section 6 and 7 of the protocol), with nothing to know
//! about transfers.
//!
//! The server replaces the report's envelope and attachment declarations in one step and lets
//! the transferring desk upload the re-sealed attachments with a secret it chose for them (only
//! its SHA-256 goes in the transfer request), through the same resumable upload a reporter uses.
//! A server that offers no such upload would lose the attachments, so the desk asks first
//! ([`DeskClient::supports_attachment_transfer`]) and refuses before changing anything.
//!
//! The re-sealed envelope, the upload secret and the re-sealed files are kept (sealed, in the
//! store) until every byte is up, so a transfer cut short resumes where it stopped.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use chrono::Utc;

use super::client::DeskClient;
use super::store::{AttachmentState, ReportRecord, Status, TransferRecord};
use super::Desk;
use crate::api::{code, DeclaredAttachment, TransferRequest};
use crate::attachment::{sealed_size, AttachmentKey, ChunkWriter};
use crate::client::http::NetError;
use crate::crypto::random::random_array;
use crate::crypto::{sha256, OsRandom, Suite};
use crate::directory::VerifiedDirectory;
use crate::encoding::{b64, unb64, unb64_array};
use crate::envelope::seal_report_with_rng;
use crate::{Error, Result};

/// Largest piece of a re-sealed attachment sent in one request.
const UPLOAD_PIECE: u64 = 256 * 1024;

impl Desk {
    /// Transfers a report to `to_unit`: re-sealed to that unit's key in `directory` (which the
    /// caller verified against the authority key), attachments re-encrypted and uploaded. The
    /// report is then marked forwarded here. Resumes a transfer to the same unit cut short.
    pub async fn transfer(
        &self,
        id: &str,
        to_unit: &str,
        directory: &VerifiedDirectory,
    ) -> Result<ReportRecord> {
        let record = self.find(id)?;
        if to_unit == self.unit_id() {
            return Err(Error::invalid("transfer", "the report is already this unit's"));
        }
        match &record.transfer {
            Some(t) if t.done => {
                return Err(Error::invalid(
                    "transfer",
                    format!("the report was transferred to {} already", t.to_unit),
                ))
            }
            Some(t) if t.to_unit != to_unit => {
                return Err(Error::invalid(
                    "transfer",
                    format!("a transfer to {} is under way; finish it first", t.to_unit),
                ))
            }
            Some(_) => return self.finish_transfer(record).await,
            None => {}
        }
        let to_key = directory
            .encryption_key_for_unit(to_unit)
            .ok_or_else(|| Error::NotFound(format!("unit {to_unit} in the verified directory")))?;
        let has_attachments = !record.report.attachments.is_empty();
        if let Some(i) = record
            .attachments
            .iter()
            .position(|a| *a != AttachmentState::Saved)
        {
            return Err(Error::invalid(
                format!("attachments[{i}]"),
                "is not stored at this desk (still uploading, or invalid): it cannot be re-sealed",
            ));
        }
        if has_attachments && !self.client().supports_attachment_transfer().await? {
            return Err(Error::refused(
                "transfer",
                "this server cannot take re-sealed attachments from a desk (its transfer request \
                 has no upload_secret_hash), so they would be lost; nothing was changed",
            ));
        }
        let mut rng = OsRandom::new();
        let sealed = seal_report_with_rng(
            &record.report,
            Suite::X25519_CHACHA,
            to_unit,
            &to_key,
            record.report_id,
            &mut rng,
        )?;
        for info in &record.report.attachments {
            let path = self.scratch(&record, info.index);
            // Section 7's form, written as the stored copy is read: one pass, flat memory.
            let mut sealer = ChunkWriter::new(
                AttachmentKey::derive(&sealed.context, info.index)?,
                BufWriter::new(std::fs::File::create(&path)?),
            );
            self.store()
                .read_attachment(record.report_id, info.index, &mut sealer)?;
            sealer.finish()?.flush()?;
        }
        let upload_secret = random_array::<32>(&mut rng)?;
        let transfer = TransferRecord {
            to_unit: to_unit.to_owned(),
            at: Utc::now(),
            upload_secret: has_attachments.then(|| b64(&upload_secret)),
            envelope: Some(b64(&sealed.envelope.to_bytes())),
            done: false,
        };
        let record = self
            .store()
            .update_report(&record, |r| r.transfer = Some(transfer))?;
        self.finish_transfer(record).await
    }

    fn scratch(&self, record: &ReportRecord, index: u16) -> std::path::PathBuf {
        self.store()
            .scratch_path(&format!("{}-{index}-transfer", record.report_id))
    }

    /// Sends the transfer (again, if a first attempt may have reached the server) and uploads
    /// what the server lacks of each re-sealed attachment.
    async fn finish_transfer(&self, record: ReportRecord) -> Result<ReportRecord> {
        let transfer = record
            .transfer
            .clone()
            .ok_or_else(|| Error::invalid("transfer", "none under way"))?;
        let envelope = transfer
            .envelope
            .as_deref()
            .ok_or_else(|| Error::invalid("transfer", "the re-sealed envelope was not kept"))?;
        let secret = transfer
            .upload_secret
            .as_deref()
            .map(unb64_array::<32>)
            .transpose()?;
        let request = TransferRequest {
            to_unit: transfer.to_unit.clone(),
            envelope: unb64(envelope)?,
            attachments: record
                .report
                .attachments
                .iter()
                .map(|a| DeclaredAttachment {
                    index: a.index,
                    sealed_size: sealed_size(a.size),
                })
                .collect(),
            upload_secret_hash: secret.map(|s| hex::encode(sha256(&s))),
        };
        match self.client().transfer(record.report_id, &request).await {
            Ok(()) => {}
            // An earlier attempt moved it already: only the uploads are left.
            Err(Error::Network(NetError::Refused {
                status: 404, code, ..
            })) if code == code::UNKNOWN_REPORT => {}
            Err(e) => return Err(e),
        }
        if let Some(secret) = secret {
            for info in &record.report.attachments {
                let path = self.scratch(&record, info.index);
                upload(self.client(), &record, info.index, &secret, &path).await?;
            }
        }
        for info in &record.report.attachments {
            let _ = std::fs::remove_file(self.scratch(&record, info.index));
        }
        self.store().update_report(&record, |r| {
            r.transfer = Some(TransferRecord {
                upload_secret: None,
                envelope: None,
                done: true,
                ..transfer
            });
            r.status = Status::Forwarded;
        })
    }
}

/// Uploads what the server lacks of one re-sealed attachment.
async fn upload(
    client: &DeskClient,
    record: &ReportRecord,
    index: u16,
    secret: &[u8; 32],
    path: &std::path::Path,
) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        Error::invalid(
            "transfer",
            format!("the re-sealed attachment {index} is gone from the store ({e})"),
        )
    })?;
    let size = file.metadata()?.len();
    let api = client.api();
    let mut offset = api.attachment_offset(record.report_id, index, secret).await?;
    while offset < size {
        let len = UPLOAD_PIECE.min(size - offset);
        let mut buf = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        offset = api.upload(record.report_id, index, secret, offset, buf).await?;
    }
    Ok(())
}
