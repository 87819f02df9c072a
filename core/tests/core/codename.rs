//! Codenames: entropy, parsing as people type, and deterministic derivation.

use std::collections::HashSet;

use tipline_core::codename::{Codename, AVOIDED, BITS, WORDS};
use tipline_core::crypto::random::RandomSource;
use tipline_core::crypto::CryptoError;

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

/// Gives `draws` in turn, one 16-byte codename draw each (eight big-endian word indices).
struct Scripted {
    draws: Vec<[u16; WORDS]>,
}

impl RandomSource for Scripted {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        assert_eq!(dest.len(), 2 * WORDS, "one codename per draw");
        if self.draws.is_empty() {
            return Err(CryptoError::Random);
        }
        let words = self.draws.remove(0);
        for (pair, word) in dest.chunks_exact_mut(2).zip(words) {
            pair.copy_from_slice(&word.to_be_bytes());
        }
        Ok(())
    }
}

fn index_of(word: &str) -> u16 {
    let list = bip39::Language::English.word_list();
    list.iter().position(|w| *w == word).unwrap() as u16
}

#[test]
fn test_avoided_words_are_words_of_the_list_sorted_once_each() {
    let list = bip39::Language::English.word_list();
    for word in AVOIDED {
        assert!(list.contains(&word), "{word} is not in the list");
    }
    assert!(
        AVOIDED.windows(2).all(|pair| pair[0] < pair[1]),
        "sorted, no repeats"
    );
    // What avoiding them leaves of the entropy: still far above 80 bits.
    let left = WORDS as f64 * ((2048 - AVOIDED.len()) as f64).log2();
    assert!(left > 87.5, "{left}");
}

#[test]
fn test_a_draw_with_an_avoided_word_is_drawn_again_and_still_parses() {
    // Given a random source whose first draw holds "bomb" among seven plain words
    let plain = index_of("banana");
    let mut with_bomb = [plain; WORDS];
    with_bomb[6] = index_of("bomb");
    let second = [index_of("dad"); WORDS];
    let mut source = Scripted {
        draws: vec![with_bomb, second],
    };

    // When a codename is generated from it
    let codename = Codename::generate_with_rng(&mut source).unwrap();

    // Then the reporter is given the second draw; the first, typed in, still opens its case
    assert_eq!(codename.to_phrase().as_str(), ["dad"; WORDS].join(" "));
    let typed = "banana banana banana banana banana banana bomb banana";
    assert_eq!(
        Codename::parse(typed).unwrap(),
        Codename::draw_with_rng(&mut Scripted {
            draws: vec![with_bomb]
        })
        .unwrap()
    );
}

#[test]
fn test_a_source_that_only_draws_avoided_words_is_an_error_not_a_hang() {
    let mut source = Scripted {
        draws: vec![[index_of("rifle"); WORDS]; 64],
    };
    assert!(Codename::generate_with_rng(&mut source).is_err());
    assert!(source.draws.is_empty(), "gave up after 64 draws");
}

#[test]
fn test_generated_codenames_hold_no_avoided_word() {
    // About one draw in five holds one; 2000 codenames would show a leak.
    for _ in 0..2000 {
        let phrase = Codename::generate().unwrap().to_phrase();
        for word in phrase.split(' ') {
            assert!(!AVOIDED.contains(&word), "{word}");
        }
    }
}
