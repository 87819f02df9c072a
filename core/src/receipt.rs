//! The server's receipt for a report: the reporter's proof of filing. It names the report id and
//! the SHA-256 of the envelope's exact bytes, so it proves what was filed, not just that
//! something was.
//!
//! The server signs receipts a batch at a time (one Ed25519 signature however many reports
//! arrive together): the receipts of a batch are the leaves of a Merkle tree (RFC 9162, see
//! [`crate::merkle`]), the server signs the tree's size and root, and each reporter gets its own
//! receipt, its place in the tree, the sibling hashes up to the root and the signed root. The
//! proof shows hashes only, never another reporter's receipt.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::keys::{SigningKey, VerifyingKey};
use crate::merkle::{self, Hash, Tree};
use crate::report::ReportId;
use crate::signed::{DocumentKind, Signed};
use crate::{Error, Result};

/// Most receipts one batch signs (the proofs stay at most 12 hashes long).
pub const MAX_BATCH: usize = 4096;

/// What the server attests for one report: a leaf of a signed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The report's id.
    pub report_id: ReportId,
    /// SHA-256 of the envelope's wire bytes.
    #[serde(with = "crate::encoding::hex_array")]
    pub envelope_sha256: [u8; 32],
    /// When the server committed it, in whole seconds.
    pub received_at: DateTime<Utc>,
}

/// The signed part of a batch: how many receipts it holds and the root of their tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchHead {
    /// Receipts in the batch, at least 1.
    pub tree_size: u32,
    /// The Merkle tree hash over the batch's leaves.
    #[serde(with = "crate::encoding::hex_array")]
    pub root: Hash,
}

/// A receipt as it travels: the receipt, where it sits in its batch, the proof, and the batch
/// head signed by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// What is attested.
    pub receipt: Receipt,
    /// The receipt's position among the batch's leaves, from 0.
    pub leaf_index: u32,
    /// Sibling hashes from the leaf up to the root (RFC 9162 inclusion proof).
    #[serde(with = "crate::encoding::hex_arrays")]
    pub proof: Vec<Hash>,
    /// The [`BatchHead`], signed by the server under `"tipline receipt batch v1"`.
    pub batch: Signed,
}

impl Receipt {
    /// A receipt for `envelope`, received at `received_at` (cut to whole seconds).
    pub fn for_envelope(envelope: &Envelope, received_at: DateTime<Utc>) -> Self {
        Receipt {
            report_id: ReportId(envelope.message_id),
            envelope_sha256: envelope.digest(),
            received_at: received_at.trunc_subsecs(0),
        }
    }

    /// The leaf's data: `report_id (16) || envelope_sha256 (32) || received_at` as signed 64-bit
    /// big-endian Unix seconds. Refused if the time is not a whole second, so that one leaf has
    /// exactly one JSON form.
    pub fn leaf_data(&self) -> Result<[u8; 56]> {
        if self.received_at.timestamp_subsec_nanos() != 0 {
            return Err(Error::refused("receipt", "the time is not a whole second"));
        }
        let mut data = [0u8; 56];
        data[..16].copy_from_slice(&self.report_id.0);
        data[16..48].copy_from_slice(&self.envelope_sha256);
        data[48..].copy_from_slice(&self.received_at.timestamp().to_be_bytes());
        Ok(data)
    }

    fn leaf_hash(&self) -> Result<Hash> {
        Ok(merkle::leaf_hash(&self.leaf_data()?))
    }
}

/// Signs a batch of receipts with one signature: each comes back with its proof, in order.
/// Refuses an empty batch, one larger than [`MAX_BATCH`], and times that are not whole seconds.
pub fn sign_batch(receipts: Vec<Receipt>, server_key: &SigningKey) -> Result<Vec<SignedReceipt>> {
    if receipts.len() > MAX_BATCH {
        return Err(Error::refused(
            "receipt",
            format!("a batch holds at most {MAX_BATCH}"),
        ));
    }
    let leaves = receipts
        .iter()
        .map(Receipt::leaf_hash)
        .collect::<Result<Vec<_>>>()?;
    let tree = Tree::new(leaves).ok_or_else(|| Error::refused("receipt", "an empty batch"))?;
    let head = BatchHead {
        tree_size: u32::try_from(tree.size()).map_err(|_| Error::refused("receipt", "batch too large"))?,
        root: tree.root(),
    };
    let batch = Signed::sign(DocumentKind::ReceiptBatch, &head, server_key)?;
    receipts
        .into_iter()
        .enumerate()
        .map(|(index, receipt)| {
            let proof = tree
                .proof(index)
                .ok_or_else(|| Error::refused("receipt", "leaf outside the tree"))?;
            Ok(SignedReceipt {
                receipt,
                leaf_index: u32::try_from(index).map_err(|_| Error::refused("receipt", "batch too large"))?,
                proof,
                batch: batch.clone(),
            })
        })
        .collect()
}

impl SignedReceipt {
    /// Checks the receipt against the server's key and the envelope it must name: the batch
    /// head's signature, the receipt's inclusion in the signed tree, then the report id and the
    /// envelope's digest. Returns the attested receipt.
    pub fn verify(&self, server_key: &VerifyingKey, envelope: &Envelope) -> Result<&Receipt> {
        self.verify_batch(server_key)?;
        if self.receipt.report_id.0 != envelope.message_id
            || self.receipt.envelope_sha256 != envelope.digest()
        {
            return Err(Error::refused("receipt", "names another envelope"));
        }
        Ok(&self.receipt)
    }

    /// [`SignedReceipt::verify`] against whichever of `keys` signed the batch (the intake's
    /// receipt keys as the directory lists them: one per deployment, two while it rotates).
    pub fn verify_with_any(&self, keys: &[VerifyingKey], envelope: &Envelope) -> Result<&Receipt> {
        let key = keys
            .iter()
            .find(|key| key.key_id() == self.batch.key_id)
            .ok_or_else(|| Error::refused("receipt", "signed by a key the directory does not list"))?;
        self.verify(key, envelope)
    }

    /// The first two of those checks: the batch head is signed by `server_key` and the receipt
    /// is in its tree. Returns the head.
    pub fn verify_batch(&self, server_key: &VerifyingKey) -> Result<BatchHead> {
        let head: BatchHead = self.batch.verify(DocumentKind::ReceiptBatch, server_key)?;
        let leaf = self.receipt.leaf_hash()?;
        if !merkle::verify_inclusion(
            &leaf,
            u64::from(self.leaf_index),
            u64::from(head.tree_size),
            &self.proof,
            &head.root,
        ) {
            return Err(Error::refused("receipt", "not in the signed batch"));
        }
        Ok(head)
    }
}
