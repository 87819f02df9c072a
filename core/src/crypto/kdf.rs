//! HKDF-SHA256 (RFC 5869) with HPKE's labelled variants (RFC 9180, section 4).
//!
//! Extract is computed with ring's HMAC so that the pseudorandom key can be compared with the
//! RFC's vectors; Expand goes through ring's HKDF.

use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use super::CryptoError;

/// Output length of SHA-256, `Nh` in RFC 9180.
pub const NH: usize = 32;

/// The version label of RFC 9180 section 4: "HPKE-v1".
const HPKE_V1: &[u8] = b"HPKE-v1";

/// A pseudorandom key, wiped when dropped.
pub type Prk = Zeroizing<[u8; NH]>;

/// `Extract(salt, ikm)` of RFC 5869, with the input key material given in parts.
pub fn extract(salt: &[u8], ikm_parts: &[&[u8]]) -> Prk {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    let mut ctx = hmac::Context::with_key(&key);
    for part in ikm_parts {
        ctx.update(part);
    }
    let tag = ctx.sign();
    let mut out = Zeroizing::new([0u8; NH]);
    out.copy_from_slice(tag.as_ref());
    out
}

/// ring wants the output length as a `KeyType`.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// `Expand(prk, info, L)` of RFC 5869, with the info given in parts; fills `out`.
pub fn expand(prk: &[u8; NH], info_parts: &[&[u8]], out: &mut [u8]) -> Result<(), CryptoError> {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk);
    let okm = prk
        .expand(info_parts, Len(out.len()))
        .map_err(|_| CryptoError::Malformed)?;
    okm.fill(out).map_err(|_| CryptoError::Malformed)
}

/// RFC 9180 section 4:
/// `LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm)`.
pub fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Prk {
    extract(salt, &[HPKE_V1, suite_id, label, ikm])
}

/// RFC 9180 section 4:
/// `LabeledExpand(prk, label, info, L) =
///   Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)`.
pub fn labeled_expand(
    suite_id: &[u8],
    prk: &[u8; NH],
    label: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let len = u16::try_from(out.len()).map_err(|_| CryptoError::Malformed)?;
    expand(prk, &[&len.to_be_bytes(), HPKE_V1, suite_id, label, info], out)
}
