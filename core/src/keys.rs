//! Key types: X25519 keys that open reports and replies, Ed25519 keys that sign directories,
//! alerts, replies and receipts. Private keys are wiped when dropped and never serialized by
//! accident: only an explicit `to_bytes`/`KeyFile` writes them.
#![deny(clippy::unwrap_used)]

use std::fmt;

use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::kem::ReceiverKey;
use crate::crypto::random::{random_array, RandomSource};
use crate::crypto::{sha256, CryptoError};
use crate::encoding::b64;

/// Length of a key id: the first 8 bytes of SHA-256 of the public key.
pub const KEY_ID_LEN: usize = 8;

/// Identifies a public key in envelopes and signatures: `SHA-256(public key)[..8]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyId(#[serde(with = "crate::encoding::hex_array")] pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The key id of a public key's bytes.
    pub fn of(public_key: &[u8]) -> Self {
        let digest = sha256(public_key);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", hex::encode(self.0))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::encoding::with_hex(&self.0, |text| f.write_str(text))
    }
}

/// An X25519 public key: what a unit publishes so that reports can be sealed to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EncryptionPublicKey(#[serde(with = "crate::encoding::b64_array")] pub [u8; 32]);

impl EncryptionPublicKey {
    /// Its key id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.0)
    }

    pub(crate) fn dalek(&self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(self.0)
    }
}

impl fmt::Debug for EncryptionPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionPublicKey({})", b64(&self.0))
    }
}

/// An X25519 private key: opens what was sealed to its public key. Held as the receiver's key
/// ([`ReceiverKey`]): its public key computed once, when the key is made or loaded (opening
/// needs it, and a desk opens many reports).
pub struct EncryptionSecretKey(ReceiverKey);

impl EncryptionSecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::generate_with_rng(&mut crate::crypto::OsRandom::new())
    }

    /// A fresh key from `rng`.
    pub fn generate_with_rng(rng: &mut dyn RandomSource) -> Result<Self, CryptoError> {
        Ok(Self::from_bytes(*Zeroizing::new(random_array::<32>(rng)?)))
    }

    /// The key for 32 secret bytes (clamped as X25519 requires).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(ReceiverKey::new(x25519_dalek::StaticSecret::from(bytes)))
    }

    /// The secret bytes, for storage by the key's owner.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.secret().to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> EncryptionPublicKey {
        EncryptionPublicKey(self.0.public().to_bytes())
    }

    pub(crate) fn receiver(&self) -> &ReceiverKey {
        &self.0
    }
}

impl fmt::Debug for EncryptionSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionSecretKey(..)")
    }
}

/// An Ed25519 public key that checks signatures.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VerifyingKey(#[serde(with = "crate::encoding::b64_array")] pub [u8; 32]);

impl VerifyingKey {
    /// Its key id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.0)
    }

    /// Checks an Ed25519 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", b64(&self.0))
    }
}

/// An Ed25519 private key, kept as its 32-byte seed (RFC 8032).
pub struct SigningKey {
    seed: Zeroizing<[u8; 32]>,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::generate_with_rng(&mut crate::crypto::OsRandom::new())
    }

    /// A fresh key from `rng`.
    pub fn generate_with_rng(rng: &mut dyn RandomSource) -> Result<Self, CryptoError> {
        Self::from_seed(*Zeroizing::new(random_array::<32>(rng)?))
    }

    /// The key for a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, CryptoError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            seed: Zeroizing::new(seed),
            pair,
        })
    }

    /// The seed, for storage by the key's owner.
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        self.seed.clone()
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        VerifyingKey(public)
    }

    /// Signs `message` (deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?})", self.verifying_key())
    }
}

/// A unit's private keys as its desk stores them: the X25519 key that opens reports and the
/// Ed25519 seed that signs replies and alerts. Only the unit's own desk ever holds this.
#[derive(Serialize, Deserialize, zeroize::ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct UnitKeyFile {
    /// The unit's id in the directory.
    #[zeroize(skip)]
    pub unit_id: String,
    /// X25519 private key.
    #[serde(with = "crate::encoding::b64_array")]
    pub encryption_secret: [u8; 32],
    /// Ed25519 seed.
    #[serde(with = "crate::encoding::b64_array")]
    pub signing_seed: [u8; 32],
}

impl UnitKeyFile {
    /// Fresh keys for `unit_id`.
    pub fn generate(unit_id: &str) -> crate::Result<Self> {
        crate::envelope::check_unit_id(unit_id)?;
        let mut rng = crate::crypto::OsRandom::new();
        Ok(Self {
            unit_id: unit_id.to_owned(),
            encryption_secret: random_array(&mut rng)?,
            signing_seed: random_array(&mut rng)?,
        })
    }

    /// The key that opens reports.
    pub fn encryption_key(&self) -> EncryptionSecretKey {
        EncryptionSecretKey::from_bytes(self.encryption_secret)
    }

    /// The key that signs replies and alerts.
    pub fn signing_key(&self) -> Result<SigningKey, CryptoError> {
        SigningKey::from_seed(self.signing_seed)
    }

    /// The public half, for the directory.
    pub fn public(&self) -> Result<UnitPublicKeys, CryptoError> {
        Ok(UnitPublicKeys {
            unit_id: self.unit_id.clone(),
            encryption_key: self.encryption_key().public_key(),
            verifying_key: self.signing_key()?.verifying_key(),
        })
    }
}

/// A unit's public keys, as the authority puts them in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitPublicKeys {
    /// The unit's id in the directory.
    pub unit_id: String,
    /// X25519 public key that reports are sealed to.
    pub encryption_key: EncryptionPublicKey,
    /// Ed25519 public key that checks the unit's replies and alerts.
    pub verifying_key: VerifyingKey,
}
