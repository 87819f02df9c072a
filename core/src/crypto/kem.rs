//! DHKEM(X25519, HKDF-SHA256), RFC 9180 section 4.1, with X25519 from x25519-dalek.
#![deny(clippy::unwrap_used)]

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::kdf::{labeled_expand, labeled_extract};
use super::random::{random_array, RandomSource};
use super::CryptoError;

/// `kem_id` of DHKEM(X25519, HKDF-SHA256).
pub const KEM_ID: u16 = 0x0020;
/// `Nenc`, `Npk`, `Nsk` and `Nsecret` are all 32 for this KEM.
pub const N: usize = 32;

/// `suite_id = concat("KEM", I2OSP(kem_id, 2))` (RFC 9180 section 4.1).
const SUITE_ID: [u8; 5] = [b'K', b'E', b'M', 0x00, 0x20];

/// A KEM shared secret, wiped when dropped.
pub type SharedSecret = Zeroizing<[u8; N]>;

/// RFC 9180 section 7.1.3, `DeriveKeyPair(ikm)` for X25519: the private key is
/// `LabeledExpand(LabeledExtract("", "dkp_prk", ikm), "sk", "", Nsk)`.
pub fn derive_key_pair(ikm: &[u8]) -> Result<(StaticSecret, PublicKey), CryptoError> {
    let dkp_prk = labeled_extract(&SUITE_ID, b"", b"dkp_prk", ikm);
    let mut sk = Zeroizing::new([0u8; N]);
    labeled_expand(&SUITE_ID, &dkp_prk, b"sk", b"", sk.as_mut())?;
    let secret = StaticSecret::from(*sk);
    let public = PublicKey::from(&secret);
    Ok((secret, public))
}

/// `DH(sk, pk)`, refusing the all-zero output that a low-order point yields (section 7.1.4).
fn dh(sk: &StaticSecret, pk: &PublicKey) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let shared = sk.diffie_hellman(pk);
    if !shared.was_contributory() {
        return Err(CryptoError::InvalidKey);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// Section 4.1, `ExtractAndExpand(dh, kem_context)`.
fn extract_and_expand(dh: &[u8], kem_context: &[u8]) -> Result<SharedSecret, CryptoError> {
    let eae_prk = labeled_extract(&SUITE_ID, b"", b"eae_prk", dh);
    let mut shared = Zeroizing::new([0u8; N]);
    labeled_expand(
        &SUITE_ID,
        &eae_prk,
        b"shared_secret",
        kem_context,
        shared.as_mut(),
    )?;
    Ok(shared)
}

/// Section 4.1, `Encap(pkR)` with a fresh ephemeral key from `rng`.
/// Returns the shared secret and `enc`, the ephemeral public key.
pub fn encap_with_rng(
    pk_r: &PublicKey,
    rng: &mut dyn RandomSource,
) -> Result<(SharedSecret, [u8; N]), CryptoError> {
    let sk_e = Zeroizing::new(random_array::<N>(rng)?);
    encap_with_ephemeral(pk_r, &StaticSecret::from(*sk_e))
}

/// `Encap(pkR)` with a given ephemeral private key, for known-answer tests.
pub fn encap_with_ephemeral(
    pk_r: &PublicKey,
    sk_e: &StaticSecret,
) -> Result<(SharedSecret, [u8; N]), CryptoError> {
    let pk_e = PublicKey::from(sk_e);
    let dh = dh(sk_e, pk_r)?;
    let enc = pk_e.to_bytes();
    let mut kem_context = [0u8; 2 * N];
    kem_context[..N].copy_from_slice(&enc);
    kem_context[N..].copy_from_slice(pk_r.as_bytes());
    Ok((extract_and_expand(dh.as_ref(), &kem_context)?, enc))
}

/// Section 4.1, `Decap(enc, skR)`.
pub fn decap(enc: &[u8], sk_r: &StaticSecret) -> Result<SharedSecret, CryptoError> {
    decap_with_public(enc, sk_r, &PublicKey::from(sk_r))
}

/// `Decap(enc, skR)` with `pkR` given, as computed once from `skR` by its holder: a receiver
/// that opens many messages with one key saves a scalar multiplication on each.
pub fn decap_with_public(
    enc: &[u8],
    sk_r: &StaticSecret,
    pk_r: &PublicKey,
) -> Result<SharedSecret, CryptoError> {
    let enc: [u8; N] = enc.try_into().map_err(|_| CryptoError::InvalidKey)?;
    let pk_e = PublicKey::from(enc);
    let dh = dh(sk_r, &pk_e)?;
    let mut kem_context = [0u8; 2 * N];
    kem_context[..N].copy_from_slice(&enc);
    kem_context[N..].copy_from_slice(pk_r.as_bytes());
    extract_and_expand(dh.as_ref(), &kem_context)
}
