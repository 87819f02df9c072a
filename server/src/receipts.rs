//! Receipt signing in batches. One thread owns the server's signing key; submissions hand it
//! their receipts and wait. It takes every receipt already waiting (up to
//! [`tipline_core::receipt::MAX_BATCH`]), signs the root of their Merkle tree once, and answers
//! each with its own proof. A lone submission makes a batch of one; under load one Ed25519
//! signature serves hundreds of reports instead of each paying for its own.

use std::sync::Arc;

use tipline_core::keys::SigningKey;
use tipline_core::receipt::{sign_batch, Receipt, SignedReceipt, MAX_BATCH};
use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};

/// Receipts waiting to be signed before submitters wait to hand theirs in.
const QUEUE: usize = 8192;

struct Request {
    receipt: Receipt,
    reply: oneshot::Sender<Result<SignedReceipt, String>>,
}

/// Hands receipts to the signing thread; cheap to clone. The thread ends when the last clone
/// is dropped.
#[derive(Clone)]
pub struct ReceiptSigner {
    queue: mpsc::Sender<Request>,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner").finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// Starts the signing thread with `key`.
    pub fn start(key: Arc<SigningKey>) -> std::io::Result<ReceiptSigner> {
        let (queue, requests) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("tipline-receipts".to_owned())
            .spawn(move || run(&key, requests))?;
        Ok(ReceiptSigner { queue })
    }

    /// Signs `receipt` within the next batch.
    pub async fn sign(&self, receipt: Receipt) -> AppResult<SignedReceipt> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request { receipt, reply })
            .await
            .map_err(|_| AppError::internal("the receipt signer has stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("the receipt signer has stopped"))?
            .map_err(|e| AppError::internal(format!("receipt: {e}")))
    }
}

fn run(key: &SigningKey, mut requests: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = requests.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let (receipts, replies): (Vec<_>, Vec<_>) = batch.drain(..).map(|r| (r.receipt, r.reply)).unzip();
        match sign_batch(receipts, key) {
            Ok(signed) => {
                for (reply, receipt) in replies.into_iter().zip(signed) {
                    // A submitter that went away loses nothing: it has not been answered.
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(e) => {
                let why = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(why.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SubsecRound, Utc};
    use tipline_core::merkle::{leaf_hash, verify_inclusion};
    use tipline_core::receipt::BatchHead;
    use tipline_core::report::ReportId;
    use tipline_core::signed::Context;

    fn receipt(i: u16, received_at: chrono::DateTime<Utc>) -> Receipt {
        let mut id = [0u8; 16];
        id[..2].copy_from_slice(&i.to_be_bytes());
        Receipt {
            report_id: ReportId(id),
            envelope_sha256: [i as u8; 32],
            received_at,
        }
    }

    #[test]
    fn test_waiting_receipts_share_one_signature_and_each_proves_its_own() {
        // Given 300 receipts waiting before the signing thread starts
        let key = SigningKey::generate().unwrap();
        let now = Utc::now().trunc_subsecs(0);
        let (queue, requests) = mpsc::channel(QUEUE);
        let answers: Vec<_> = (0..300u16)
            .map(|i| {
                let (reply, answer) = oneshot::channel();
                queue
                    .try_send(Request {
                        receipt: receipt(i, now),
                        reply,
                    })
                    .unwrap();
                answer
            })
            .collect();
        drop(queue);
        // When the thread runs
        run(&key, requests);
        // Then every receipt comes back in one batch of 300 that proves it and only it
        let mut signatures = std::collections::HashSet::new();
        for (i, answer) in (0..300u16).zip(answers) {
            let signed = answer.blocking_recv().unwrap().unwrap();
            assert_eq!(signed.receipt, receipt(i, now));
            let head: BatchHead = signed
                .batch
                .verify(Context::ReceiptBatch, &key.verifying_key())
                .unwrap();
            assert_eq!(head.tree_size, 300);
            let leaf = leaf_hash(&signed.receipt.leaf_data().unwrap());
            let index = u64::from(signed.leaf_index);
            assert!(verify_inclusion(&leaf, index, 300, &signed.proof, &head.root));
            let other = leaf_hash(&receipt(i.wrapping_add(1), now).leaf_data().unwrap());
            assert!(!verify_inclusion(&other, index, 300, &signed.proof, &head.root));
            signatures.insert(signed.batch.signature);
        }
        assert_eq!(signatures.len(), 1);
    }

    #[tokio::test]
    async fn test_a_lone_receipt_is_signed_at_once() {
        let key = Arc::new(SigningKey::generate().unwrap());
        let signer = ReceiptSigner::start(Arc::clone(&key)).unwrap();
        let signed = signer
            .sign(receipt(7, Utc::now().trunc_subsecs(0)))
            .await
            .unwrap();
        let head: BatchHead = signed
            .batch
            .verify(Context::ReceiptBatch, &key.verifying_key())
            .unwrap();
        assert_eq!((head.tree_size, signed.leaf_index, signed.proof.len()), (1, 0, 0));
    }

    #[tokio::test]
    async fn test_a_refused_receipt_is_an_error_not_a_hang() {
        let signer = ReceiptSigner::start(Arc::new(SigningKey::generate().unwrap())).unwrap();
        // Not a whole second: refused by the batch.
        let split = receipt(1, Utc::now().trunc_subsecs(0) + chrono::Duration::milliseconds(5));
        assert!(signer.sign(split).await.is_err());
    }
}
