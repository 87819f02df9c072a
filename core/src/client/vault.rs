//! Encryption at rest for what the device keeps about its cases (codenames, conversations):
//! ChaCha20-Poly1305 under a key from the platform's key store, a random nonce per record, and
//! the record's identity as associated data so records cannot be swapped.
//!
//! Record layout: `nonce (12) || ciphertext || tag (16)`.

use ring::aead;
use zeroize::Zeroizing;

use crate::crypto::random::random_array;
use crate::crypto::{CryptoError, OsRandom};

/// Seals and opens records with one key.
pub struct Vault(aead::LessSafeKey);

impl Vault {
    /// Bytes a record grows by when sealed: its nonce and tag.
    pub const OVERHEAD: usize = 12 + 16;

    /// A vault over a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Result<Self, CryptoError> {
        let unbound =
            aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Vault(aead::LessSafeKey::new(unbound)))
    }

    /// Seals `plaintext`, bound to `record` (e.g. `b"case:<id>"`).
    pub fn seal(&self, record: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random_array::<12>(&mut OsRandom::new())?;
        let mut out = Vec::with_capacity(plaintext.len() + Self::OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(12);
        self.0
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(record),
                &mut body,
            )
            .map_err(|_| CryptoError::MessageLimit)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a record sealed for `record`.
    pub fn open(&self, record: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < Self::OVERHEAD {
            return Err(CryptoError::Malformed);
        }
        let (nonce, body) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self
            .0
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(record),
                buf.as_mut(),
            )
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_records_round_trip_and_cannot_be_swapped() {
        let vault = Vault::new(&[7u8; 32]).unwrap();
        let a = vault.seal(b"case:a", b"plan ocean nine ...").unwrap();
        assert_eq!(
            vault.open(b"case:a", &a).unwrap().as_slice(),
            b"plan ocean nine ..."
        );
        assert_eq!(vault.open(b"case:b", &a), Err(CryptoError::Decrypt));
        assert_eq!(
            Vault::new(&[8u8; 32]).unwrap().open(b"case:a", &a),
            Err(CryptoError::Decrypt)
        );
        assert_ne!(
            vault.seal(b"case:a", b"x").unwrap(),
            vault.seal(b"case:a", b"x").unwrap()
        );
    }
}
