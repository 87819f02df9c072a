//! Oblivious HTTP (RFC 9458), the client's side: a request is encapsulated to one of the
//! gateway's key configurations, sent through a relay that sees the sender's address but only
//! ciphertext, and the gateway's answer comes back encapsulated under a key only this request's
//! sender can derive.
//!
//! It is built on the project's own HPKE ([`crate::crypto::hpke`]) rather than the `ohttp`
//! crate, so the phone library carries one HPKE stack, not two; the server's gateway uses the
//! `ohttp` crate, and the tests check the two against each other in both directions.
#![deny(clippy::unwrap_used)]

pub mod bhttp;
mod keys;

use zeroize::Zeroizing;

use crate::crypto::hpke::{Context, Suite};
use crate::crypto::kdf::{expand, extract};
use crate::crypto::random::RandomSource;
use crate::crypto::{kem, CryptoError};

pub use keys::{KeyConfig, MAX_KEY_CONFIGS};

/// The media type of an encapsulated request (RFC 9458, section 9.2).
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
/// The media type of an encapsulated response (RFC 9458, section 9.3).
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
/// The media type of a list of key configurations (RFC 9458, section 9.1).
pub const KEYS_MEDIA_TYPE: &str = "application/ohttp-keys";

/// The label of a request's `info` (section 4.3).
const REQUEST_LABEL: &[u8] = b"message/bhttp request";
/// The label of the response secret's export (section 4.4).
const RESPONSE_LABEL: &[u8] = b"message/bhttp response";
/// `hdr`: key id, KEM, KDF and AEAD identifiers.
pub const HEADER_LEN: usize = 7;
/// What encapsulation adds to a request: the header, `enc` and the AEAD tag.
pub const REQUEST_OVERHEAD: usize = HEADER_LEN + kem::N + crate::crypto::hpke::TAG_LEN;
/// What encapsulation adds to a response at most: the nonce and the AEAD tag.
pub const RESPONSE_OVERHEAD: usize = 32 + crate::crypto::hpke::TAG_LEN;

/// Section 4.3: a request encapsulated to `config` with the first symmetric suite this build
/// supports. Returns the bytes to send and the state that opens the answer.
pub fn encapsulate_request_with_rng(
    config: &KeyConfig,
    request: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<(Vec<u8>, ResponseOpener), CryptoError> {
    let suite = config.suite()?;
    // hdr = concat(encode(1, key_id), encode(2, kem_id), encode(2, kdf_id), encode(2, aead_id))
    let mut hdr = [0u8; HEADER_LEN];
    hdr[0] = config.key_id;
    hdr[1..3].copy_from_slice(&kem::KEM_ID.to_be_bytes());
    hdr[3..5].copy_from_slice(&crate::crypto::hpke::KDF_ID.to_be_bytes());
    hdr[5..7].copy_from_slice(&suite.aead.id().to_be_bytes());
    // info = concat(encode_str("message/bhttp request"), encode(1, 0), hdr)
    let mut info = Vec::with_capacity(REQUEST_LABEL.len() + 1 + HEADER_LEN);
    info.extend_from_slice(REQUEST_LABEL);
    info.push(0);
    info.extend_from_slice(&hdr);
    // enc, sctxt = SetupBaseS(pkR, info); ct = sctxt.Seal("", request)
    let (enc, mut context) = suite.setup_sender_with_rng(&config.public_key, &info, rng)?;
    let ct = context.seal(b"", request)?;
    let mut out = Vec::with_capacity(HEADER_LEN + enc.len() + ct.len());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(&enc);
    out.extend_from_slice(&ct);
    Ok((out, ResponseOpener { context, enc }))
}

/// Section 4.3 with the operating system's randomness.
pub fn encapsulate_request(
    config: &KeyConfig,
    request: &[u8],
) -> Result<(Vec<u8>, ResponseOpener), CryptoError> {
    encapsulate_request_with_rng(config, request, &mut crate::crypto::OsRandom::new())
}

/// What a client keeps of its request to open the answer: the HPKE context (for its exporter)
/// and `enc`.
pub struct ResponseOpener {
    context: Context,
    enc: [u8; kem::N],
}

impl ResponseOpener {
    /// Section 4.4, from the client's side: opens `enc_response = response_nonce || ct`.
    pub fn open(self, enc_response: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let aead = self.context.suite().aead;
        let (nk, nn) = (aead.key_len(), crate::crypto::hpke::NN);
        let nonce_len = nk.max(nn);
        if enc_response.len() < nonce_len + crate::crypto::hpke::TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (response_nonce, ct) = enc_response.split_at(nonce_len);
        // secret = context.Export("message/bhttp response", max(Nn, Nk))
        let mut secret = Zeroizing::new(vec![0u8; nonce_len]);
        self.context.export(RESPONSE_LABEL, &mut secret)?;
        // salt = concat(enc, response_nonce); prk = Extract(salt, secret)
        let mut salt = Vec::with_capacity(self.enc.len() + nonce_len);
        salt.extend_from_slice(&self.enc);
        salt.extend_from_slice(response_nonce);
        let prk = extract(&salt, &[&secret]);
        // aead_key = Expand(prk, "key", Nk); aead_nonce = Expand(prk, "nonce", Nn)
        let mut key = Zeroizing::new(vec![0u8; nk]);
        expand(&prk, &[b"key"], &mut key)?;
        let mut nonce = [0u8; crate::crypto::hpke::NN];
        expand(&prk, &[b"nonce"], &mut nonce)?;
        let unbound =
            ring::aead::UnboundKey::new(aead.algorithm(), &key).map_err(|_| CryptoError::InvalidKey)?;
        let key = ring::aead::LessSafeKey::new(unbound);
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = key
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                buf.as_mut(),
            )
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// The suite a key configuration is used with.
impl KeyConfig {
    fn suite(&self) -> Result<Suite, CryptoError> {
        self.aeads
            .iter()
            .find_map(|id| crate::crypto::hpke::Aead::from_id(*id).ok())
            .map(|aead| Suite { aead })
            .ok_or(CryptoError::UnsupportedVersion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9458, appendix A: the key configuration, the request, its encapsulation with the
    /// given ephemeral key, and the response with its nonce.
    const KEY_CONFIG: &str =
        "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";
    const REQUEST: &str = "00034745540568747470730b6578616d706c652e636f6d012f";
    const ENC_REQUEST: &str = "010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b4726374e469135906992e1268c594d2a10c695d858c40a026e7965e7d86b83dd440b2c0185204b4d63525";
    const RESPONSE: &str = "0140c8";
    const ENC_RESPONSE: &str = "c789e7151fcba46158ca84b04464910d86f9013e404feea014e7be4a441f234f857fbd";

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    /// Answers `values` in order, for an exact ephemeral key.
    struct Fixed(Vec<u8>);
    impl RandomSource for Fixed {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
            let n = dest.len();
            dest.copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(())
        }
    }

    #[test]
    fn test_rfc9458_appendix_a_request_and_response() {
        // Given the RFC's key configuration and ephemeral key
        let config = KeyConfig::decode(&unhex(KEY_CONFIG)).unwrap();
        assert_eq!(config.key_id, 1);
        let sk_e = unhex("bc51d5e930bda26589890ac7032f70ad12e4ecb37abb1b65b1256c9c48999c73");
        // When the RFC's request is encapsulated
        let (enc_request, opener) =
            encapsulate_request_with_rng(&config, &unhex(REQUEST), &mut Fixed(sk_e)).unwrap();
        // Then the bytes are the RFC's (it uses AES-128-GCM, the first suite listed)
        assert_eq!(hex::encode(&enc_request), ENC_REQUEST);
        // And the RFC's response opens to its content
        assert_eq!(
            opener.open(&unhex(ENC_RESPONSE)).unwrap().as_slice(),
            unhex(RESPONSE).as_slice()
        );
    }

    #[test]
    fn test_altered_or_short_response_is_refused() {
        let config = KeyConfig::decode(&unhex(KEY_CONFIG)).unwrap();
        let sk_e = unhex("bc51d5e930bda26589890ac7032f70ad12e4ecb37abb1b65b1256c9c48999c73");
        let mut bad = unhex(ENC_RESPONSE);
        bad[20] ^= 1;
        let (_, opener) =
            encapsulate_request_with_rng(&config, &unhex(REQUEST), &mut Fixed(sk_e.clone())).unwrap();
        assert_eq!(opener.open(&bad).err(), Some(CryptoError::Decrypt));
        let (_, opener) = encapsulate_request_with_rng(&config, &unhex(REQUEST), &mut Fixed(sk_e)).unwrap();
        assert_eq!(opener.open(&bad[..20]).err(), Some(CryptoError::Malformed));
    }
}
