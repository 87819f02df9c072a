//! HPKE base mode (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, and ChaCha20Poly1305 or
//! AES-128-GCM from ring, with the secret export interface.
#![deny(clippy::unwrap_used)]

use ring::aead;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::kdf::{labeled_expand, labeled_extract, NH};
use super::kem::{self, SharedSecret};
use super::random::RandomSource;
use super::CryptoError;

/// `kdf_id` of HKDF-SHA256.
pub const KDF_ID: u16 = 0x0001;
/// `mode_base` (section 5).
const MODE_BASE: u8 = 0x00;
/// `Nn`: both AEADs use 96-bit nonces.
pub const NN: usize = 12;
/// `Nt`: both AEADs append a 128-bit tag.
pub const TAG_LEN: usize = 16;

/// The AEADs this build supports, with their RFC 9180 `aead_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aead {
    /// AES-128-GCM, `aead_id` 0x0001.
    Aes128Gcm,
    /// ChaCha20Poly1305, `aead_id` 0x0003. The default: fast without AES hardware.
    ChaCha20Poly1305,
}

impl Aead {
    /// The RFC 9180 identifier.
    pub fn id(self) -> u16 {
        match self {
            Aead::Aes128Gcm => 0x0001,
            Aead::ChaCha20Poly1305 => 0x0003,
        }
    }

    /// The AEAD for an RFC 9180 identifier.
    pub fn from_id(id: u16) -> Result<Self, CryptoError> {
        match id {
            0x0001 => Ok(Aead::Aes128Gcm),
            0x0003 => Ok(Aead::ChaCha20Poly1305),
            _ => Err(CryptoError::UnsupportedVersion),
        }
    }

    /// `Nk`, the key length.
    pub fn key_len(self) -> usize {
        self.algorithm().key_len()
    }

    pub(crate) fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Aead::Aes128Gcm => &aead::AES_128_GCM,
            Aead::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }
}

/// An HPKE ciphersuite. The KEM and KDF are fixed; the AEAD varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    /// The AEAD of this suite.
    pub aead: Aead,
}

impl Suite {
    /// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305.
    pub const X25519_CHACHA: Suite = Suite {
        aead: Aead::ChaCha20Poly1305,
    };
    /// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
    pub const X25519_AES128: Suite = Suite {
        aead: Aead::Aes128Gcm,
    };

    /// `suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2))`.
    fn suite_id(self) -> [u8; 10] {
        let mut id = [0u8; 10];
        id[..4].copy_from_slice(b"HPKE");
        id[4..6].copy_from_slice(&kem::KEM_ID.to_be_bytes());
        id[6..8].copy_from_slice(&KDF_ID.to_be_bytes());
        id[8..].copy_from_slice(&self.aead.id().to_be_bytes());
        id
    }

    /// Section 5.1, `KeySchedule(mode_base, shared_secret, info, "", "")`: every value it
    /// derives, for known-answer tests and for [`Suite::key_schedule`].
    pub fn key_schedule_values(self, shared_secret: &[u8], info: &[u8]) -> Result<KeySchedule, CryptoError> {
        let suite_id = self.suite_id();
        let psk_id_hash = labeled_extract(&suite_id, b"", b"psk_id_hash", b"");
        let info_hash = labeled_extract(&suite_id, b"", b"info_hash", info);
        let mut key_schedule_context = [0u8; 1 + 2 * NH];
        key_schedule_context[0] = MODE_BASE;
        key_schedule_context[1..1 + NH].copy_from_slice(psk_id_hash.as_ref());
        key_schedule_context[1 + NH..].copy_from_slice(info_hash.as_ref());

        let secret = labeled_extract(&suite_id, shared_secret, b"secret", b"");
        let mut key = Zeroizing::new(vec![0u8; self.aead.key_len()]);
        labeled_expand(&suite_id, &secret, b"key", &key_schedule_context, &mut key)?;
        let mut base_nonce = [0u8; NN];
        labeled_expand(
            &suite_id,
            &secret,
            b"base_nonce",
            &key_schedule_context,
            &mut base_nonce,
        )?;
        let mut exporter_secret = Zeroizing::new([0u8; NH]);
        labeled_expand(
            &suite_id,
            &secret,
            b"exp",
            &key_schedule_context,
            exporter_secret.as_mut(),
        )?;
        Ok(KeySchedule {
            key_schedule_context,
            secret,
            key,
            base_nonce,
            exporter_secret,
        })
    }

    /// Section 5.1: the encryption context for a shared secret and `info`.
    pub fn key_schedule(self, shared_secret: &[u8], info: &[u8]) -> Result<Context, CryptoError> {
        let values = self.key_schedule_values(shared_secret, info)?;
        let unbound =
            aead::UnboundKey::new(self.aead.algorithm(), &values.key).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Context {
            suite: self,
            key: aead::LessSafeKey::new(unbound),
            base_nonce: values.base_nonce,
            exporter_secret: values.exporter_secret.clone(),
            seq: 0,
        })
    }

    /// Section 5.1.1, `SetupBaseS(pkR, info)`: returns `enc` and the sender's context.
    pub fn setup_sender_with_rng(
        self,
        pk_r: &PublicKey,
        info: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<([u8; kem::N], Context), CryptoError> {
        let (shared, enc) = kem::encap_with_rng(pk_r, rng)?;
        Ok((enc, self.key_schedule(shared.as_ref(), info)?))
    }

    /// `SetupBaseS` with a given ephemeral key, for known-answer tests.
    pub fn setup_sender_with_ephemeral(
        self,
        pk_r: &PublicKey,
        sk_e: &StaticSecret,
        info: &[u8],
    ) -> Result<([u8; kem::N], Context), CryptoError> {
        let (shared, enc) = kem::encap_with_ephemeral(pk_r, sk_e)?;
        Ok((enc, self.key_schedule(shared.as_ref(), info)?))
    }

    /// Section 5.1.1, `SetupBaseR(enc, skR, info)`.
    pub fn setup_receiver(
        self,
        enc: &[u8],
        sk_r: &StaticSecret,
        info: &[u8],
    ) -> Result<Context, CryptoError> {
        self.setup_receiver_with_key(enc, &kem::ReceiverKey::new(sk_r.clone()), info)
    }

    /// `SetupBaseR` with the receiver's key as its holder keeps it ([`kem::ReceiverKey`]).
    pub fn setup_receiver_with_key(
        self,
        enc: &[u8],
        key: &kem::ReceiverKey,
        info: &[u8],
    ) -> Result<Context, CryptoError> {
        let shared: SharedSecret = kem::decap_with_key(enc, key)?;
        self.key_schedule(shared.as_ref(), info)
    }

    /// Section 6.1, single-shot `Seal(pkR, info, aad, pt)`: returns `enc` and the ciphertext.
    pub fn seal_with_rng(
        self,
        pk_r: &PublicKey,
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<([u8; kem::N], Vec<u8>), CryptoError> {
        let (enc, mut ctx) = self.setup_sender_with_rng(pk_r, info, rng)?;
        Ok((enc, ctx.seal(aad, plaintext)?))
    }

    /// Section 6.1, single-shot `Open(enc, skR, info, aad, ct)`.
    pub fn open(
        self,
        enc: &[u8],
        sk_r: &StaticSecret,
        info: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.setup_receiver(enc, sk_r, info)?.open(aad, ciphertext)
    }
}

/// The values the key schedule derives (RFC 9180 section 5.1). Secrets are wiped when dropped.
pub struct KeySchedule {
    /// `key_schedule_context = mode || psk_id_hash || info_hash`.
    pub key_schedule_context: [u8; 1 + 2 * NH],
    /// `secret`.
    pub secret: Zeroizing<[u8; NH]>,
    /// The AEAD key, `Nk` bytes.
    pub key: Zeroizing<Vec<u8>>,
    /// `base_nonce`.
    pub base_nonce: [u8; NN],
    /// `exporter_secret`.
    pub exporter_secret: Zeroizing<[u8; NH]>,
}

impl Drop for KeySchedule {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.base_nonce);
    }
}

/// An HPKE encryption context (section 5.2): the AEAD key, base nonce, sequence number and
/// exporter secret. A sender's context only seals, a receiver's only opens.
pub struct Context {
    suite: Suite,
    key: aead::LessSafeKey,
    base_nonce: [u8; NN],
    exporter_secret: Zeroizing<[u8; NH]>,
    seq: u64,
}

impl Drop for Context {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.base_nonce);
    }
}

impl Context {
    /// The suite this context was set up with.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Section 5.2, `ComputeNonce(seq) = xor(base_nonce, I2OSP(seq, Nn))`.
    fn nonce(&self, seq: u64) -> aead::Nonce {
        let mut nonce = self.base_nonce;
        for (n, s) in nonce[NN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        aead::Nonce::assume_unique_for_key(nonce)
    }

    /// Section 5.2, `ContextS.Seal(aad, pt)`: seals under the next sequence number.
    pub fn seal(&mut self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let seq = self.next_seq()?;
        self.seal_at(seq, aad, plaintext)
    }

    /// Section 5.2, `ContextR.Open(aad, ct)`: opens under the next sequence number. The sequence
    /// number advances only when opening succeeds.
    pub fn open(&mut self, aad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let pt = self.open_at(self.seq, aad, ciphertext)?;
        self.next_seq()?;
        Ok(pt)
    }

    /// Seals under an explicit sequence number, for protocols that carry it (section 9.7.1).
    /// The caller must never use a sequence number twice.
    pub fn seal_at(&self, seq: u64, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(self.nonce(seq), aead::Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError::MessageLimit)?;
        Ok(buf)
    }

    /// Opens under an explicit sequence number.
    pub fn open_at(
        &self,
        seq: u64,
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = self
            .key
            .open_in_place(self.nonce(seq), aead::Aad::from(aad), buf.as_mut())
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Section 5.3, `Context.Export(exporter_context, L)`: fills `out` with `L = out.len()`
    /// bytes of secret derived from this context.
    pub fn export(&self, exporter_context: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
        labeled_expand(
            &self.suite.suite_id(),
            &self.exporter_secret,
            b"sec",
            exporter_context,
            out,
        )
    }

    /// Section 5.2, `IncrementSeq()`.
    fn next_seq(&mut self) -> Result<u64, CryptoError> {
        let seq = self.seq;
        self.seq = seq.checked_add(1).ok_or(CryptoError::MessageLimit)?;
        Ok(seq)
    }
}
