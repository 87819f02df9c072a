//! Known-answer tests of our HPKE against RFC 9180, Appendix A, for the X25519 suites.
//!
//! The vectors live in `core/tests/data/hpke-rfc9180-x25519.json` (a copy of the shared file,
//! compiled in so the tests need nothing at run time). We implement base mode only: the psk,
//! auth and auth_psk vectors are skipped on purpose, and the export-only AEAD (65535) must be
//! refused.

use serde::{Deserialize, Deserializer};
use tipline_core::crypto::kem::{decap, derive_key_pair, encap_with_ephemeral};
use tipline_core::crypto::{Aead, CryptoError, Suite};
use x25519_dalek::{PublicKey, StaticSecret};

const VECTORS_JSON: &str = include_str!("../data/hpke-rfc9180-x25519.json");

/// Base mode (RFC 9180, section 5): the only mode we implement.
const MODE_BASE: u8 = 0;
/// DHKEM(X25519, HKDF-SHA256).
const KEM_ID: u16 = 0x0020;
/// HKDF-SHA256.
const KDF_ID: u16 = 0x0001;
/// The export-only AEAD identifier.
const AEAD_EXPORT_ONLY: u16 = 0xFFFF;
/// Base mode with AES-128-GCM and with ChaCha20Poly1305.
const EXPECTED_BASE_VECTORS: usize = 2;

fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    hex::decode(&text).map_err(serde::de::Error::custom)
}

/// One (suite, mode) object of the RFC's appendix; fields of the other modes are ignored.
#[derive(Debug, Deserialize)]
struct Vector {
    mode: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    #[serde(deserialize_with = "hex_bytes")]
    info: Vec<u8>,
    #[serde(rename = "ikmE", deserialize_with = "hex_bytes")]
    ikm_e: Vec<u8>,
    #[serde(rename = "pkEm", deserialize_with = "hex_bytes")]
    pk_em: Vec<u8>,
    #[serde(rename = "skEm", deserialize_with = "hex_bytes")]
    sk_em: Vec<u8>,
    #[serde(rename = "ikmR", deserialize_with = "hex_bytes")]
    ikm_r: Vec<u8>,
    #[serde(rename = "pkRm", deserialize_with = "hex_bytes")]
    pk_rm: Vec<u8>,
    #[serde(rename = "skRm", deserialize_with = "hex_bytes")]
    sk_rm: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    enc: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    shared_secret: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    key_schedule_context: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    secret: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    key: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    base_nonce: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    exporter_secret: Vec<u8>,
    encryptions: Vec<Encryption>,
    exports: Vec<Export>,
}

#[derive(Debug, Deserialize)]
struct Encryption {
    seq: u64,
    #[serde(deserialize_with = "hex_bytes")]
    pt: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    aad: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    nonce: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    ct: Vec<u8>,
}

#[derive(Debug, Deserialize)]
struct Export {
    #[serde(deserialize_with = "hex_bytes")]
    exporter_context: Vec<u8>,
    #[serde(rename = "L")]
    len: usize,
    #[serde(deserialize_with = "hex_bytes")]
    exported_value: Vec<u8>,
}

impl Vector {
    fn suite(&self) -> Suite {
        Suite {
            aead: Aead::from_id(self.aead_id).expect("supported AEAD"),
        }
    }

    fn label(&self) -> String {
        format!("mode {} aead_id {}", self.mode, self.aead_id)
    }

    fn sk_e(&self) -> StaticSecret {
        StaticSecret::from(to_array(&self.sk_em))
    }

    fn sk_r(&self) -> StaticSecret {
        StaticSecret::from(to_array(&self.sk_rm))
    }

    fn pk_r(&self) -> PublicKey {
        PublicKey::from(to_array(&self.pk_rm))
    }
}

fn to_array(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().expect("32-byte key")
}

fn all_vectors() -> Vec<Vector> {
    serde_json::from_str(VECTORS_JSON).expect("vectors file parses")
}

/// The base-mode vectors of the AEADs we support. Asserts there are exactly two of them, so
/// that no test built on this can pass vacuously.
fn base_vectors() -> Vec<Vector> {
    let vectors: Vec<Vector> = all_vectors()
        .into_iter()
        .filter(|v| v.mode == MODE_BASE && (v.aead_id == 1 || v.aead_id == 3))
        .collect();
    assert_eq!(
        vectors.len(),
        EXPECTED_BASE_VECTORS,
        "base-mode vectors in the file"
    );
    for v in &vectors {
        assert_eq!((v.kem_id, v.kdf_id), (KEM_ID, KDF_ID), "{}", v.label());
    }
    vectors
}

#[test]
fn test_file_holds_twelve_vectors_of_which_two_are_checked() {
    // given: the RFC's X25519 vectors, four modes for each of three AEADs
    let vectors = all_vectors();
    // when: we keep base mode with an AEAD we implement
    let checked = vectors
        .iter()
        .filter(|v| v.mode == MODE_BASE && Aead::from_id(v.aead_id).is_ok())
        .count();
    let skipped_modes = vectors.iter().filter(|v| v.mode != MODE_BASE).count();
    // then: 12 in all, 9 skipped (psk, auth, auth_psk), 2 checked, and the export-only base
    // vector is the only base vector left out
    assert_eq!(vectors.len(), 12);
    assert_eq!(skipped_modes, 9);
    assert_eq!(checked, EXPECTED_BASE_VECTORS);
    assert_eq!(base_vectors().len(), EXPECTED_BASE_VECTORS);
}

#[test]
fn test_derive_key_pair_matches_ephemeral_and_recipient_keys() {
    for v in base_vectors() {
        // given: ikmE and ikmR
        // when: DeriveKeyPair runs on each
        let (sk_e, pk_e) = derive_key_pair(&v.ikm_e).expect("derive ephemeral");
        let (sk_r, pk_r) = derive_key_pair(&v.ikm_r).expect("derive recipient");
        // then: the key pairs are skEm/pkEm and skRm/pkRm
        assert_eq!(sk_e.to_bytes().to_vec(), v.sk_em, "skEm, {}", v.label());
        assert_eq!(pk_e.as_bytes().to_vec(), v.pk_em, "pkEm, {}", v.label());
        assert_eq!(sk_r.to_bytes().to_vec(), v.sk_rm, "skRm, {}", v.label());
        assert_eq!(pk_r.as_bytes().to_vec(), v.pk_rm, "pkRm, {}", v.label());
    }
}

#[test]
fn test_encap_with_ephemeral_gives_enc_and_shared_secret() {
    for v in base_vectors() {
        // given: the recipient's public key and the ephemeral secret key
        // when: Encap runs with that ephemeral key
        let (shared, enc) = encap_with_ephemeral(&v.pk_r(), &v.sk_e()).expect("encap");
        // then: enc and shared_secret are the vector's
        assert_eq!(enc.to_vec(), v.enc, "enc, {}", v.label());
        assert_eq!(shared.to_vec(), v.shared_secret, "shared_secret, {}", v.label());
    }
}

#[test]
fn test_decap_recovers_shared_secret() {
    for v in base_vectors() {
        // given: enc and the recipient's secret key
        // when: Decap runs
        let shared = decap(&v.enc, &v.sk_r()).expect("decap");
        // then: it gives the vector's shared_secret
        assert_eq!(shared.to_vec(), v.shared_secret, "shared_secret, {}", v.label());
    }
}

#[test]
fn test_key_schedule_matches_on_sender_and_receiver() {
    for v in base_vectors() {
        // given: the vector's keys and info
        let expected = [
            &v.key_schedule_context,
            &v.secret,
            &v.key,
            &v.base_nonce,
            &v.exporter_secret,
        ];
        let names = [
            "key_schedule_context",
            "secret",
            "key",
            "base_nonce",
            "exporter_secret",
        ];
        // when: both sides derive the shared secret (Encap with skE, Decap with skR) and run
        // the key schedule
        let (sender_shared, enc) = encap_with_ephemeral(&v.pk_r(), &v.sk_e()).expect("encap");
        let receiver_shared = decap(&enc, &v.sk_r()).expect("decap");
        // then: every intermediate value of the key schedule is the vector's, on both sides
        assert_eq!(enc.to_vec(), v.enc, "enc, {}", v.label());
        for (side, shared) in [("sender", &sender_shared), ("receiver", &receiver_shared)] {
            let ks = v
                .suite()
                .key_schedule_values(shared.as_ref(), &v.info)
                .expect("key schedule");
            let got: [&[u8]; 5] = [
                &ks.key_schedule_context,
                ks.secret.as_ref(),
                &ks.key,
                &ks.base_nonce,
                ks.exporter_secret.as_ref(),
            ];
            for ((name, want), got) in names.iter().zip(expected).zip(got) {
                assert_eq!(got, want.as_slice(), "{name} ({side}), {}", v.label());
            }
        }
    }
}

#[test]
fn test_vector_nonces_are_base_nonce_xor_seq() {
    for v in base_vectors() {
        // given: each listed encryption's seq and nonce
        for e in &v.encryptions {
            // when: ComputeNonce(seq) is computed by hand
            let mut nonce = v.base_nonce.clone();
            for (n, s) in nonce[4..].iter_mut().zip(e.seq.to_be_bytes()) {
                *n ^= s;
            }
            // then: it is the listed nonce (a consistency check of the vectors file itself)
            assert_eq!(nonce, e.nonce, "nonce at seq {}, {}", e.seq, v.label());
        }
    }
}

#[test]
fn test_seal_at_gives_every_listed_ciphertext() {
    for v in base_vectors() {
        // given: the sender's context and the listed encryptions (seq 0, 1, 2, 4, 255, 256)
        let (_, ctx) = v
            .suite()
            .setup_sender_with_ephemeral(&v.pk_r(), &v.sk_e(), &v.info)
            .expect("setup sender");
        let seqs: Vec<u64> = v.encryptions.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [0, 1, 2, 4, 255, 256], "{}", v.label());
        for e in &v.encryptions {
            // when: each plaintext is sealed at its seq
            let ct = ctx.seal_at(e.seq, &e.aad, &e.pt).expect("seal_at");
            // then: the ciphertext is exactly the vector's
            assert_eq!(
                hex::encode(ct),
                hex::encode(&e.ct),
                "ct at seq {}, {}",
                e.seq,
                v.label()
            );
        }
    }
}

#[test]
fn test_open_at_recovers_every_listed_plaintext() {
    for v in base_vectors() {
        // given: the receiver's context
        let ctx = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        for e in &v.encryptions {
            // when: each listed ciphertext is opened at its seq
            let pt = ctx.open_at(e.seq, &e.aad, &e.ct);
            // then: it gives back the plaintext
            assert_eq!(
                pt.as_deref().map(|p| p.to_vec()),
                Ok(e.pt.clone()),
                "seq {}, {}",
                e.seq,
                v.label()
            );
        }
    }
}

#[test]
fn test_sequential_seal_gives_ciphertexts_at_seq_0_1_2() {
    for v in base_vectors() {
        // given: a fresh sender context
        let (_, mut ctx) = v
            .suite()
            .setup_sender_with_ephemeral(&v.pk_r(), &v.sk_e(), &v.info)
            .expect("setup sender");
        for e in v.encryptions.iter().take_while(|e| e.seq <= 2) {
            // when: seal is called repeatedly
            let ct = ctx.seal(&e.aad, &e.pt).expect("seal");
            // then: the n-th call gives the ciphertext at seq n
            assert_eq!(ct, e.ct, "ct at seq {}, {}", e.seq, v.label());
        }
    }
}

#[test]
fn test_sequential_open_recovers_plaintexts_at_seq_0_1_2() {
    for v in base_vectors() {
        // given: a fresh receiver context
        let mut ctx = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        for e in v.encryptions.iter().take_while(|e| e.seq <= 2) {
            // when: open is called on the ciphertexts in order
            let pt = ctx.open(&e.aad, &e.ct).expect("open");
            // then: each gives back its plaintext
            assert_eq!(pt.to_vec(), e.pt, "seq {}, {}", e.seq, v.label());
        }
    }
}

#[test]
fn test_export_matches_on_sender_and_receiver() {
    for v in base_vectors() {
        // given: both contexts
        let (_, sender) = v
            .suite()
            .setup_sender_with_ephemeral(&v.pk_r(), &v.sk_e(), &v.info)
            .expect("setup sender");
        let receiver = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        assert_eq!(v.exports.len(), 3, "{}", v.label());
        for x in &v.exports {
            for (side, ctx) in [("sender", &sender), ("receiver", &receiver)] {
                // when: Export(exporter_context, L) runs
                let mut out = vec![0u8; x.len];
                ctx.export(&x.exporter_context, &mut out).expect("export");
                // then: it gives the exported value
                assert_eq!(
                    out,
                    x.exported_value,
                    "export ({side}) of {:?}, {}",
                    hex::encode(&x.exporter_context),
                    v.label()
                );
            }
        }
    }
}

#[test]
fn test_flipped_ciphertext_byte_fails_with_decrypt() {
    for v in base_vectors() {
        // given: the receiver's context and each listed ciphertext
        let ctx = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        for e in &v.encryptions {
            for i in 0..e.ct.len() {
                // when: one byte (body or tag) is flipped
                let mut ct = e.ct.clone();
                ct[i] ^= 0x01;
                // then: opening fails with Decrypt
                let err = ctx.open_at(e.seq, &e.aad, &ct).map(|_| ());
                assert_eq!(
                    err,
                    Err(CryptoError::Decrypt),
                    "byte {i} seq {}, {}",
                    e.seq,
                    v.label()
                );
            }
        }
    }
}

#[test]
fn test_wrong_seq_fails_with_decrypt() {
    for v in base_vectors() {
        // given: the receiver's context and each listed ciphertext
        let ctx = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        for e in &v.encryptions {
            for wrong in [e.seq + 1, e.seq ^ 0x100, u64::MAX] {
                // when: it is opened at a sequence number other than its own
                let err = ctx.open_at(wrong, &e.aad, &e.ct).map(|_| ());
                // then: opening fails with Decrypt
                assert_eq!(
                    err,
                    Err(CryptoError::Decrypt),
                    "seq {} as {wrong}, {}",
                    e.seq,
                    v.label()
                );
            }
        }
        // and: the sequential API, skipping the seq-0 message, cannot open the seq-1 one
        let mut ctx = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        let e1 = &v.encryptions[1];
        assert_eq!(ctx.open(&e1.aad, &e1.ct).map(|_| ()), Err(CryptoError::Decrypt));
        // and: a failed open does not advance the sequence number
        let e0 = &v.encryptions[0];
        assert_eq!(ctx.open(&e0.aad, &e0.ct).map(|p| p.to_vec()), Ok(e0.pt.clone()));
    }
}

#[test]
fn test_wrong_aad_or_info_fails_with_decrypt() {
    for v in base_vectors() {
        let e = &v.encryptions[0];
        // given: the receiver's context
        let ctx = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), &v.info)
            .expect("setup receiver");
        // when: the aad is altered
        let err = ctx.open_at(e.seq, b"Count-1", &e.ct).map(|_| ());
        // then: opening fails with Decrypt
        assert_eq!(err, Err(CryptoError::Decrypt), "{}", v.label());
        // when: the receiver uses another info
        let other = v
            .suite()
            .setup_receiver(&v.enc, &v.sk_r(), b"other info")
            .expect("setup");
        // then: opening fails with Decrypt
        assert_eq!(
            other.open_at(e.seq, &e.aad, &e.ct).map(|_| ()),
            Err(CryptoError::Decrypt)
        );
    }
}

#[test]
fn test_export_only_aead_is_refused() {
    // given: the export-only vectors (aead_id 65535) in the file
    let export_only = all_vectors()
        .into_iter()
        .filter(|v| v.aead_id == AEAD_EXPORT_ONLY)
        .count();
    assert_eq!(export_only, 4);
    // when: the AEAD is looked up by its id
    let err = Aead::from_id(AEAD_EXPORT_ONLY);
    // then: it is refused as unsupported, as are unassigned ids
    assert_eq!(err, Err(CryptoError::UnsupportedVersion));
    assert_eq!(Aead::from_id(0x0002), Err(CryptoError::UnsupportedVersion));
    assert_eq!(Aead::from_id(0x0000), Err(CryptoError::UnsupportedVersion));
    // and: the supported ids round-trip
    assert_eq!(Aead::from_id(1).map(Aead::id), Ok(1));
    assert_eq!(Aead::from_id(3).map(Aead::id), Ok(3));
}
