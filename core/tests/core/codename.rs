//! Codenames: entropy, parsing as people type, and deterministic derivation.

use std::collections::HashSet;

use tipline_core::codename::{Codename, BITS, WORDS};

use crate::support::FixedRng;

#[test]
fn test_codename_has_at_least_80_bits() {
    const { assert!(BITS >= 80) };
    assert_eq!(WORDS as u32 * 11, BITS);
    let phrase = Codename::generate().unwrap().to_phrase();
    assert_eq!(phrase.split(' ').count(), WORDS);
}

#[test]
fn test_fresh_codenames_differ() {
    let phrases: HashSet<String> = (0..200)
        .map(|_| Codename::generate().unwrap().to_phrase().to_string())
        .collect();
    assert_eq!(phrases.len(), 200);
}

#[test]
fn test_parse_accepts_what_people_type() {
    // Given a codename shown to a reporter
    let codename = Codename::generate_with_rng(&mut FixedRng::new("parse")).unwrap();
    let phrase = codename.to_phrase().to_string();
    // When it is typed in capitals, with hyphens, or as four-letter prefixes
    let shouted = phrase.to_uppercase();
    let hyphens = phrase.replace(' ', "-");
    let prefixes: Vec<String> = phrase
        .split(' ')
        .map(|w| {
            if w.len() >= 4 {
                w[..4].to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    // Then each parses to the same codename
    for typed in [
        phrase.clone(),
        shouted,
        hyphens,
        format!("  {}  ", prefixes.join(", ")),
    ] {
        assert_eq!(Codename::parse(&typed).unwrap(), codename, "{typed}");
    }
}

#[test]
fn test_parse_refuses_wrong_count_and_unknown_words_without_echoing_them() {
    let err = Codename::parse("abandon ability able").err().unwrap().to_string();
    assert!(err.contains("8 words"), "{err}");
    let err = Codename::parse("abandon ability able about above absent absorb zzzzqq")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("word 8"), "{err}");
    assert!(
        !err.contains("zzzzqq"),
        "the error must not repeat the codename: {err}"
    );
}

#[test]
fn test_derivation_is_deterministic_and_separates_outputs() {
    // Given the same codename on two devices
    let a = Codename::generate_with_rng(&mut FixedRng::new("device")).unwrap();
    let b = Codename::parse(&a.to_phrase()).unwrap();
    let (ka, kb) = (a.derive().unwrap(), b.derive().unwrap());
    // Then both derive the same case id, secret and reply key
    assert_eq!(ka.case_id, kb.case_id);
    assert_eq!(ka.case_secret, kb.case_secret);
    assert_eq!(ka.reply_key.public_key(), kb.reply_key.public_key());
    // And a different codename derives different values; the outputs are independent
    let other = Codename::generate_with_rng(&mut FixedRng::new("other"))
        .unwrap()
        .derive()
        .unwrap();
    assert_ne!(ka.case_id, other.case_id);
    assert_ne!(&ka.case_id.0[..], &ka.case_secret[..16]);
}

#[test]
fn test_debug_never_shows_the_words() {
    let codename = Codename::generate().unwrap();
    let first = codename.to_phrase().split(' ').next().unwrap().to_string();
    assert!(!format!("{codename:?}").contains(&first));
}
