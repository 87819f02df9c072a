//! DHKEM(X25519, HKDF-SHA256), RFC 9180 section 4.1, with X25519 from x25519-dalek; a desk
//! build (the `desk` feature) decapsulates with AWS-LC's X25519 instead (see [`ReceiverKey`]).
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
    decap_with_key(enc, &ReceiverKey::new(sk_r.clone()))
}

/// `Decap(enc, skR)` with the receiver's key as its holder keeps it ([`ReceiverKey`]).
pub fn decap_with_key(enc: &[u8], key: &ReceiverKey) -> Result<SharedSecret, CryptoError> {
    let enc: [u8; N] = enc.try_into().map_err(|_| CryptoError::InvalidKey)?;
    let dh = key.dh(&enc)?;
    let mut kem_context = [0u8; 2 * N];
    kem_context[..N].copy_from_slice(&enc);
    kem_context[N..].copy_from_slice(key.public.as_bytes());
    extract_and_expand(dh.as_ref(), &kem_context)
}

/// A receiver's X25519 key as its holder keeps it to open many messages: its public key
/// (`pkR`, part of every decapsulation's context) computed once, not for each message; and, in
/// a desk build (the `desk` feature), the secret also held by AWS-LC, whose X25519 (s2n-bignum's)
/// takes well under half the time of x25519-dalek's Montgomery ladder on x86-64: one agreement
/// is most of the CPU a desk spends on each report it takes. Both compute RFC 7748's function,
/// and refuse the same inputs (a low-order point, whose output is all zeros); the phone library
/// keeps x25519-dalek alone.
pub struct ReceiverKey {
    secret: StaticSecret,
    public: PublicKey,
    #[cfg(feature = "desk")]
    agreement: Option<aws_lc_rs::agreement::PrivateKey>,
}

impl ReceiverKey {
    /// The key of `secret`, its public key computed now.
    pub fn new(secret: StaticSecret) -> ReceiverKey {
        let public = PublicKey::from(&secret);
        ReceiverKey {
            #[cfg(feature = "desk")]
            agreement: aws_lc_rs::agreement::PrivateKey::from_private_key(
                &aws_lc_rs::agreement::X25519,
                secret.as_bytes(),
            )
            .ok(),
            secret,
            public,
        }
    }

    /// The secret key (for its owner to store; never shown).
    pub(crate) fn secret(&self) -> &StaticSecret {
        &self.secret
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// `DH(skR, pkE)`, refusing the all-zero output of a low-order point (section 7.1.4).
    fn dh(&self, pk_e: &[u8; N]) -> Result<Zeroizing<[u8; N]>, CryptoError> {
        #[cfg(feature = "desk")]
        if let Some(agreement) = &self.agreement {
            return agree(agreement, pk_e);
        }
        dh(&self.secret, &PublicKey::from(*pk_e))
    }
}

/// `DH(sk, pk)` with AWS-LC, which refuses (as an error) the all-zero output.
#[cfg(feature = "desk")]
fn agree(sk: &aws_lc_rs::agreement::PrivateKey, pk: &[u8; N]) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    use aws_lc_rs::agreement::{agree, UnparsedPublicKey, X25519};
    agree(
        sk,
        UnparsedPublicKey::new(&X25519, pk),
        CryptoError::InvalidKey,
        |shared| {
            let mut out = Zeroizing::new([0u8; N]);
            if shared.len() != N {
                return Err(CryptoError::InvalidKey);
            }
            out.copy_from_slice(shared);
            Ok(out)
        },
    )
}

#[cfg(all(test, feature = "desk"))]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// AWS-LC and x25519-dalek agree on every key and point, including the points they
        /// both refuse.
        #[test]
        fn test_both_agreements_agree(sk in any::<[u8; N]>(), pk in any::<[u8; N]>()) {
            let key = ReceiverKey::new(StaticSecret::from(sk));
            prop_assert!(key.agreement.is_some());
            let ours = key.dh(&pk).map(|dh| *dh);
            let dalek = dh(&key.secret, &PublicKey::from(pk)).map(|dh| *dh);
            prop_assert_eq!(ours, dalek);
        }
    }

    #[test]
    fn test_low_order_points_are_refused() {
        let key = ReceiverKey::new(StaticSecret::from([7u8; N]));
        // u = 0 (of order 2), u = 1 (of order 4), and u = 2^255 - 19 (0 again, not reduced):
        // a clamped scalar is a multiple of 8, so each gives an all-zero output.
        let mut p = [0xffu8; N];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut zero = [0u8; N];
        let mut one = [0u8; N];
        one[0] = 1;
        for pk in [zero, one, p] {
            assert!(matches!(key.dh(&pk), Err(CryptoError::InvalidKey)));
            assert!(matches!(
                dh(&key.secret, &PublicKey::from(pk)),
                Err(CryptoError::InvalidKey)
            ));
        }
        // The top bit is ignored by both (RFC 7748 section 5).
        zero[31] = 0x80;
        assert!(matches!(key.dh(&zero), Err(CryptoError::InvalidKey)));
    }
}
