//! Envelope v1: round trips, binding of the header, tampering, padding.

use proptest::prelude::*;
use tipline_core::crypto::{CryptoError, OsRandom, Suite};
use tipline_core::envelope::{open_report, seal_report, seal_report_with_rng, Envelope};
use tipline_core::keys::EncryptionSecretKey;
use tipline_core::report::ReportId;
use tipline_core::Error;

use crate::support::report;

#[test]
fn test_report_round_trips_in_both_suites() {
    for suite in [Suite::X25519_CHACHA, Suite::X25519_AES128] {
        // Given a unit key and a report
        let unit = EncryptionSecretKey::generate().unwrap();
        let report = report("Min nabo deler IS-propaganda i en gruppechat.");
        // When it is sealed, serialised, parsed and opened
        let id = ReportId::random().unwrap();
        let sealed = seal_report_with_rng(
            &report,
            suite,
            "dk-national-hotline",
            &unit.public_key(),
            id,
            &mut OsRandom::new(),
        )
        .unwrap();
        let bytes = sealed.envelope.to_bytes();
        let parsed = Envelope::from_bytes(&bytes).unwrap();
        let opened = open_report(&parsed, "dk-national-hotline", &unit).unwrap();
        // Then the unit reads exactly what was sealed, under the same id
        assert_eq!(opened.report, report);
        assert_eq!(opened.report_id, id);
        assert_eq!(parsed.suite, suite);
    }
}

#[test]
fn test_every_altered_byte_is_refused_without_panic() {
    // Given a sealed envelope
    let unit = EncryptionSecretKey::generate().unwrap();
    let sealed = seal_report(&report("short tip"), "es-citco", &unit.public_key()).unwrap();
    let bytes = sealed.envelope.to_bytes();
    // When any single byte is altered (every position, two different flips)
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut altered = bytes.clone();
            altered[i] ^= flip;
            // Then parsing or opening fails with an error, never a panic or a report
            let result = Envelope::from_bytes(&altered)
                .map_err(Error::from)
                .and_then(|env| open_report(&env, &env.unit_id.clone(), &unit));
            assert!(result.is_err(), "byte {i} flipped with {flip:#x} was accepted");
        }
    }
}

#[test]
fn test_unknown_version_and_suite_are_refused_before_crypto() {
    let unit = EncryptionSecretKey::generate().unwrap();
    let bytes = seal_report(&report("tip"), "es-citco", &unit.public_key())
        .unwrap()
        .envelope
        .to_bytes();
    for (pos, value) in [(0usize, 2u8), (0, 0), (1, 3), (1, 0), (2, 9)] {
        let mut altered = bytes.clone();
        altered[pos] = value;
        assert_eq!(
            Envelope::from_bytes(&altered),
            Err(CryptoError::UnsupportedVersion)
        );
    }
}

#[test]
fn test_truncated_and_extended_envelopes_are_malformed() {
    let unit = EncryptionSecretKey::generate().unwrap();
    let bytes = seal_report(&report("tip"), "es-citco", &unit.public_key())
        .unwrap()
        .envelope
        .to_bytes();
    for cut in [3, 10, 40, bytes.len() - 1] {
        assert_eq!(
            Envelope::from_bytes(&bytes[..cut]),
            Err(CryptoError::Malformed),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Envelope::from_bytes(&longer), Err(CryptoError::Malformed));
}

#[test]
fn test_ciphertext_cannot_move_to_another_unit_or_id() {
    // Given a report sealed to unit A under id X
    let unit = EncryptionSecretKey::generate().unwrap();
    let sealed = seal_report(&report("tip"), "unit-a", &unit.public_key()).unwrap();
    // When its ciphertext is relabelled for unit B (same key) or id Y
    let mut moved_unit = sealed.envelope.clone();
    moved_unit.unit_id = "unit-b".into();
    let mut moved_id = sealed.envelope.clone();
    moved_id.message_id[0] ^= 1;
    // Then it no longer opens, even with the right private key
    for env in [moved_unit, moved_id] {
        let reparsed = Envelope::from_bytes(&env.to_bytes()).unwrap();
        let err = open_report(&reparsed, &reparsed.unit_id.clone(), &unit)
            .err()
            .unwrap();
        assert!(matches!(err, Error::Crypto(CryptoError::Decrypt)), "{err}");
    }
}

#[test]
fn test_wrong_key_and_wrong_unit_give_clear_errors() {
    let unit = EncryptionSecretKey::generate().unwrap();
    let other = EncryptionSecretKey::generate().unwrap();
    let sealed = seal_report(&report("tip"), "unit-a", &unit.public_key()).unwrap();
    let err = open_report(&sealed.envelope, "unit-a", &other).err().unwrap();
    assert!(err.to_string().contains("another key"), "{err}");
    let err = open_report(&sealed.envelope, "unit-b", &unit).err().unwrap();
    assert!(err.to_string().contains("another unit"), "{err}");
}

#[test]
fn test_padding_hides_length_within_a_bucket() {
    // Given a one-word tip and a tip of several hundred characters
    let unit = EncryptionSecretKey::generate().unwrap();
    let short = seal_report(&report("x"), "u", &unit.public_key()).unwrap();
    let long = seal_report(&report(&"y".repeat(400)), "u", &unit.public_key()).unwrap();
    // Then their envelopes have the same size
    assert_eq!(short.envelope.to_bytes().len(), long.envelope.to_bytes().len());
    assert_eq!(short.envelope.ciphertext.len(), 1024 + 16);
}

#[test]
fn test_invalid_report_is_refused_before_sealing() {
    let unit = EncryptionSecretKey::generate().unwrap();
    let mut bad = report("   ");
    let err = seal_report(&bad, "u", &unit.public_key()).err().unwrap();
    assert!(err.to_string().contains("report.text"), "{err}");
    bad.text = "ok".into();
    bad.language = "not a language!".into();
    let err = seal_report(&bad, "u", &unit.public_key()).err().unwrap();
    assert!(err.to_string().contains("report.language"), "{err}");
    let err = seal_report(&report("ok"), "Bad Unit", &unit.public_key())
        .err()
        .unwrap();
    assert!(err.to_string().contains("unit_id"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn test_any_report_text_round_trips(text in "\\PC{1,3000}", unit_id in "[a-z0-9-]{1,64}") {
        prop_assume!(!text.trim().is_empty());
        let unit = EncryptionSecretKey::generate().unwrap();
        let report = report(&text);
        let sealed = seal_report(&report, &unit_id, &unit.public_key()).unwrap();
        let parsed = Envelope::from_bytes(&sealed.envelope.to_bytes()).unwrap();
        let opened = open_report(&parsed, &unit_id, &unit).unwrap();
        prop_assert_eq!(opened.report, report);
    }

    #[test]
    fn test_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let unit = EncryptionSecretKey::generate().unwrap();
        if let Ok(env) = Envelope::from_bytes(&bytes) {
            prop_assert!(open_report(&env, &env.unit_id.clone(), &unit).is_err());
        }
    }
}
