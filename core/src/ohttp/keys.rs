//! Key configurations (RFC 9458, section 3): which key a gateway decrypts with, and the
//! symmetric algorithms it accepts.
#![deny(clippy::unwrap_used)]

use x25519_dalek::PublicKey;

use crate::crypto::{hpke, kem, CryptoError};
use crate::encoding::Reader;

/// Most key configurations a client looks at in one list (a gateway rotating keys has two or
/// three at once).
pub const MAX_KEY_CONFIGS: usize = 16;
/// Most symmetric suites read from one key configuration.
const MAX_SUITES: usize = 16;

/// One key configuration of a gateway, as far as this build can use it: DHKEM(X25519,
/// HKDF-SHA256) with the AEADs it offers together with HKDF-SHA256, in the gateway's order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyConfig {
    /// The key identifier the gateway picks its private key by.
    pub key_id: u8,
    /// The gateway's X25519 public key.
    pub public_key: PublicKey,
    /// RFC 9180 `aead_id`s offered with HKDF-SHA256, supported by this build or not.
    pub aeads: Vec<u16>,
}

impl KeyConfig {
    /// Section 3.1:
    /// ```text
    /// Key Config {
    ///   Key Identifier (8), HPKE KEM ID (16), HPKE Public Key (Npk * 8),
    ///   HPKE Symmetric Algorithms Length (16) = 4..65532,
    ///   HPKE Symmetric Algorithms (32) ...,
    /// }
    /// ```
    /// A configuration must use DHKEM(X25519, HKDF-SHA256) and offer a supported suite, and
    /// nothing may follow it.
    pub fn decode(bytes: &[u8]) -> Result<KeyConfig, CryptoError> {
        let mut reader = Reader(bytes);
        let config = Self::read(&mut reader)?;
        if !reader.0.is_empty() {
            return Err(CryptoError::Malformed);
        }
        Ok(config)
    }

    fn read(reader: &mut Reader<'_>) -> Result<KeyConfig, CryptoError> {
        let key_id = reader.take(1)?[0];
        let kem_id = reader.u16()?;
        if kem_id != kem::KEM_ID {
            return Err(CryptoError::UnsupportedVersion);
        }
        let pk: [u8; kem::N] = reader
            .take(kem::N)?
            .try_into()
            .map_err(|_| CryptoError::Malformed)?;
        let suites_len = usize::from(reader.u16()?);
        if suites_len < 4 || suites_len % 4 != 0 {
            return Err(CryptoError::Malformed);
        }
        let mut suites = Reader(reader.take(suites_len)?);
        let mut aeads = Vec::new();
        while !suites.0.is_empty() {
            let (kdf, aead) = (suites.u16()?, suites.u16()?);
            if kdf == hpke::KDF_ID && aeads.len() < MAX_SUITES {
                aeads.push(aead);
            }
        }
        if !aeads.iter().any(|id| hpke::Aead::from_id(*id).is_ok()) {
            return Err(CryptoError::UnsupportedVersion);
        }
        Ok(KeyConfig {
            key_id,
            public_key: PublicKey::from(pk),
            aeads,
        })
    }

    /// Section 3.2, `application/ohttp-keys`: configurations each preceded by its length in two
    /// bytes. Those this build cannot use (another KEM, no supported suite) are skipped; a list
    /// that is malformed, holds none this build can use, or more than [`MAX_KEY_CONFIGS`], is
    /// refused.
    pub fn decode_list(bytes: &[u8]) -> Result<Vec<KeyConfig>, CryptoError> {
        let mut reader = Reader(bytes);
        let mut out = Vec::new();
        let mut seen = 0;
        while !reader.0.is_empty() {
            seen += 1;
            if seen > MAX_KEY_CONFIGS {
                return Err(CryptoError::Malformed);
            }
            let len = usize::from(reader.u16()?);
            match Self::decode(reader.take(len)?) {
                Ok(config) => out.push(config),
                Err(CryptoError::UnsupportedVersion) => {}
                Err(e) => return Err(e),
            }
        }
        if out.is_empty() {
            return Err(CryptoError::UnsupportedVersion);
        }
        Ok(out)
    }

    /// The section 3.1 encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 2 + kem::N + 2 + 4 * self.aeads.len());
        out.push(self.key_id);
        out.extend_from_slice(&kem::KEM_ID.to_be_bytes());
        out.extend_from_slice(self.public_key.as_bytes());
        let suites_len = u16::try_from(4 * self.aeads.len()).unwrap_or(u16::MAX) & !3;
        out.extend_from_slice(&suites_len.to_be_bytes());
        for aead in self.aeads.iter().take(usize::from(suites_len) / 4) {
            out.extend_from_slice(&hpke::KDF_ID.to_be_bytes());
            out.extend_from_slice(&aead.to_be_bytes());
        }
        out
    }

    /// The section 3.2 encoding of a list.
    pub fn encode_list(configs: &[KeyConfig]) -> Vec<u8> {
        let mut out = Vec::new();
        for config in configs {
            let encoded = config.encode();
            out.extend_from_slice(&u16::try_from(encoded.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(&encoded);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_CONFIG: &str =
        "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";

    #[test]
    fn test_key_config_round_trips_and_lists() {
        let bytes = hex::decode(RFC_CONFIG).unwrap();
        let config = KeyConfig::decode(&bytes).unwrap();
        assert_eq!(config.aeads, vec![0x0001, 0x0003]);
        assert_eq!(config.encode(), bytes);
        let mut other = config.clone();
        other.key_id = 2;
        let list = KeyConfig::encode_list(&[config.clone(), other.clone()]);
        assert_eq!(KeyConfig::decode_list(&list).unwrap(), vec![config, other]);
    }

    #[test]
    fn test_malformed_or_foreign_key_configs_are_refused() {
        let bytes = hex::decode(RFC_CONFIG).unwrap();
        // Truncated, or with trailing bytes
        assert_eq!(
            KeyConfig::decode(&bytes[..bytes.len() - 1]),
            Err(CryptoError::Malformed)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(KeyConfig::decode(&long), Err(CryptoError::Malformed));
        // Another KEM (P-256, 0x0010)
        let mut p256 = bytes.clone();
        p256[2] = 0x10;
        assert_eq!(KeyConfig::decode(&p256), Err(CryptoError::UnsupportedVersion));
        // Only an AEAD this build does not have (AES-256-GCM, 0x0002)
        let mut aes256 = bytes[..35].to_vec();
        aes256.extend_from_slice(&[0, 4, 0, 1, 0, 2]);
        assert_eq!(KeyConfig::decode(&aes256), Err(CryptoError::UnsupportedVersion));
        // A list with a foreign configuration skips it; with nothing usable it is refused
        let list = KeyConfig::encode_list(&[KeyConfig::decode(&bytes).unwrap()]);
        let mut foreign = Vec::new();
        foreign.extend_from_slice(&(p256.len() as u16).to_be_bytes());
        foreign.extend_from_slice(&p256);
        let mut mixed = foreign.clone();
        mixed.extend_from_slice(&list);
        assert_eq!(KeyConfig::decode_list(&mixed).unwrap().len(), 1);
        assert_eq!(
            KeyConfig::decode_list(&foreign),
            Err(CryptoError::UnsupportedVersion)
        );
        assert_eq!(KeyConfig::decode_list(&list[..10]), Err(CryptoError::Malformed));
    }
}
