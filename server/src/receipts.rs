//! Receipt signing in batches, without a thread of its own. A submission adds its receipt to
//! the waiting list; if no batch is being signed at that moment, it starts a signing task, which
//! first lets the tasks ready to run go (their receipts join the list), then takes every receipt
//! waiting (up to [`tipline_core::receipt::MAX_BATCH`]), signs the root of their Merkle tree
//! once, answers each with its own proof, and goes on until the list is empty. A lone submission
//! makes a batch of one; under load one Ed25519 signature serves several receipts (about five
//! in `loadgen`'s peak, against about three with the signing thread this replaced).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tipline_core::keys::SigningKey;
use tipline_core::receipt::{sign_batch, Receipt, SignedReceipt, MAX_BATCH};
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

struct Request {
    receipt: Receipt,
    reply: oneshot::Sender<Result<SignedReceipt, String>>,
}

#[derive(Default)]
struct Waiting {
    requests: Vec<Request>,
    /// A submission is signing: it will take what is added to `requests`.
    signing: bool,
}

/// Signs receipts in batches; cheap to clone.
#[derive(Clone)]
pub struct ReceiptSigner {
    key: Arc<SigningKey>,
    waiting: Arc<Mutex<Waiting>>,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner").finish_non_exhaustive()
    }
}

/// Gives the signing role back when the signer stops, even by a panic, so receipts added later
/// find no signer and sign themselves.
struct SigningRole<'a>(&'a ReceiptSigner);

impl Drop for SigningRole<'_> {
    fn drop(&mut self) {
        self.0.lock().signing = false;
    }
}

impl ReceiptSigner {
    /// A signer with `key`.
    pub fn new(key: Arc<SigningKey>) -> ReceiptSigner {
        ReceiptSigner {
            key,
            waiting: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // A panic while the list was held leaves it whole: pushes and drains are single calls.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a receipt to the waiting list; whether the caller is now the signer.
    fn enqueue(&self, receipt: Receipt) -> (oneshot::Receiver<Result<SignedReceipt, String>>, bool) {
        let (reply, answer) = oneshot::channel();
        let mut waiting = self.lock();
        waiting.requests.push(Request { receipt, reply });
        let lead = !waiting.signing;
        waiting.signing = true;
        (answer, lead)
    }

    /// Signs what is waiting, batch after batch, until nothing is (the signer only).
    fn sign_waiting(&self) {
        let _role = SigningRole(self);
        loop {
            let batch: Vec<Request> = {
                let mut waiting = self.lock();
                if waiting.requests.is_empty() {
                    return;
                }
                let take = waiting.requests.len().min(MAX_BATCH);
                waiting.requests.drain(..take).collect()
            };
            let (receipts, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|r| (r.receipt, r.reply)).unzip();
            match sign_batch(receipts, &self.key) {
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

    /// Signs `receipt` within the next batch.
    pub async fn sign(&self, receipt: Receipt) -> AppResult<SignedReceipt> {
        let (answer, lead) = self.enqueue(receipt);
        if lead {
            // A task of its own, so that a request dropped meanwhile cannot strand the others;
            // it lets the tasks ready to run go first, so that their receipts join the batch.
            let signer = self.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                signer.sign_waiting();
            });
        }
        answer
            .await
            .map_err(|_| AppError::internal("the receipt signer stopped"))?
            .map_err(|e| AppError::internal(format!("receipt: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SubsecRound, Utc};
    use tipline_core::merkle::{leaf_hash, verify_inclusion};
    use tipline_core::report::ReportId;

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
        // Given 300 receipts added while another submission is signing
        let key = Arc::new(SigningKey::generate().unwrap());
        let signer = ReceiptSigner::new(Arc::clone(&key));
        let now = Utc::now().trunc_subsecs(0);
        signer.lock().signing = true;
        let answers: Vec<_> = (0..300u16)
            .map(|i| {
                let (answer, lead) = signer.enqueue(receipt(i, now));
                assert!(!lead);
                answer
            })
            .collect();
        // When the signer takes what is waiting
        signer.sign_waiting();
        // Then every receipt comes back in one batch of 300 that proves it and only it
        let mut signatures = std::collections::HashSet::new();
        for (i, answer) in (0..300u16).zip(answers) {
            let signed = answer.blocking_recv().unwrap().unwrap();
            assert_eq!(signed.receipt, receipt(i, now));
            let head = signed.verify_batch(&key.verifying_key()).unwrap();
            assert_eq!(head.tree_size, 300);
            let index = u64::from(signed.leaf_index);
            let other = leaf_hash(&receipt(i.wrapping_add(1), now).leaf_data().unwrap());
            assert!(!verify_inclusion(&other, index, 300, &signed.proof, &head.root));
            signatures.insert(signed.batch.signature);
        }
        assert_eq!(signatures.len(), 1);
    }

    #[tokio::test]
    async fn test_a_lone_receipt_is_signed_at_once() {
        let key = Arc::new(SigningKey::generate().unwrap());
        let signer = ReceiptSigner::new(Arc::clone(&key));
        let signed = signer
            .sign(receipt(7, Utc::now().trunc_subsecs(0)))
            .await
            .unwrap();
        let head = signed.verify_batch(&key.verifying_key()).unwrap();
        assert_eq!((head.tree_size, signed.leaf_index, signed.proof.len()), (1, 0, 0));
    }

    #[tokio::test]
    async fn test_a_refused_receipt_is_an_error_not_a_hang() {
        let signer = ReceiptSigner::new(Arc::new(SigningKey::generate().unwrap()));
        // Not a whole second: refused by the batch.
        let split = receipt(1, Utc::now().trunc_subsecs(0) + chrono::Duration::milliseconds(5));
        assert!(signer.sign(split).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn test_concurrent_submissions_are_all_signed_none_left_waiting() {
        // Given 500 submissions that ask for their receipt at the same moment
        let key = Arc::new(SigningKey::generate().unwrap());
        let signer = ReceiptSigner::new(Arc::clone(&key));
        let now = Utc::now().trunc_subsecs(0);
        let start = Arc::new(tokio::sync::Barrier::new(500));
        let tasks: Vec<_> = (0..500u16)
            .map(|i| {
                let (signer, start) = (signer.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    signer.sign(receipt(i, now)).await
                })
            })
            .collect();

        // When they have all been answered (a stranded one would hang here)
        let signed = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            let mut signed = Vec::new();
            for task in tasks {
                signed.push(task.await.unwrap().unwrap());
            }
            signed
        })
        .await
        .unwrap();

        // Then each is its own receipt under a batch head the server signed
        for (i, signed) in (0..500u16).zip(signed) {
            assert_eq!(signed.receipt, receipt(i, now));
            signed.verify_batch(&key.verifying_key()).unwrap();
        }
        assert!(!signer.lock().signing);
    }
}
