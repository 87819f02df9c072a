//! Signed documents: a JSON payload carried as base64url bytes, and an Ed25519 signature over
//! those exact bytes behind a context string. Signing the bytes, not a re-serialisation, means no
//! canonical JSON is needed: a verifier checks the bytes it received, then parses them.
//!
//! Signature input: `context || 0x00 || payload`, where `context` names the document kind
//! (see [`DocumentKind`]) so that a signature over one kind can never pass as another.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, SigningKey, VerifyingKey};
use crate::{Error, Result};

/// The document kinds, each with its own signature context string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// The authority's directory: `tipline directory v1`.
    Directory,
    /// A unit's alert: `tipline alert v1`.
    Alert,
    /// The server's signed batch of receipts: `tipline receipt batch v1`.
    ReceiptBatch,
    /// A unit's reply in a case: `tipline reply v1`.
    Reply,
    /// A unit's status notice in a case: `tipline notice v1`.
    Notice,
}

impl DocumentKind {
    /// The context string that prefixes the signature input.
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Directory => "tipline directory v1",
            DocumentKind::Alert => "tipline alert v1",
            DocumentKind::ReceiptBatch => "tipline receipt batch v1",
            DocumentKind::Reply => "tipline reply v1",
            DocumentKind::Notice => "tipline notice v1",
        }
    }

    fn what(self) -> &'static str {
        match self {
            DocumentKind::Directory => "directory",
            DocumentKind::Alert => "alert",
            DocumentKind::ReceiptBatch => "receipt",
            DocumentKind::Reply => "reply",
            DocumentKind::Notice => "notice",
        }
    }

    fn signature_input(self, payload: &[u8]) -> Vec<u8> {
        let label = self.label().as_bytes();
        let mut input = Vec::with_capacity(label.len() + 1 + payload.len());
        input.extend_from_slice(label);
        input.push(0);
        input.extend_from_slice(payload);
        input
    }
}

/// A signed JSON document as it travels: `{"payload", "key_id", "signature"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The document's JSON bytes.
    #[serde(with = "crate::encoding::b64_bytes")]
    pub payload: Vec<u8>,
    /// The id of the signing key.
    pub key_id: KeyId,
    /// Ed25519 over `context || 0x00 || payload`.
    #[serde(with = "crate::encoding::b64_bytes")]
    pub signature: Vec<u8>,
}

impl Signed {
    /// Serialises `doc` to JSON and signs it under `kind`.
    pub fn sign<T: Serialize>(kind: DocumentKind, doc: &T, key: &SigningKey) -> Result<Self> {
        let payload = serde_json::to_vec(doc)?;
        let signature = key.sign(&kind.signature_input(&payload)).to_vec();
        Ok(Signed {
            payload,
            key_id: key.verifying_key().key_id(),
            signature,
        })
    }

    /// Checks the signature against `key` under `kind`, then parses the payload.
    pub fn verify<T: DeserializeOwned>(&self, kind: DocumentKind, key: &VerifyingKey) -> Result<T> {
        if self.key_id != key.key_id() {
            return Err(Error::refused(kind.what(), "signed by another key"));
        }
        key.verify(&kind.signature_input(&self.payload), &self.signature)
            .map_err(|_| Error::refused(kind.what(), "signature does not verify"))?;
        serde_json::from_slice(&self.payload)
            .map_err(|e| Error::refused(kind.what(), format!("payload does not parse: {e}")))
    }
}
