//! Shared fixtures for the core tests.

use tipline_core::codename::Codename;
use tipline_core::crypto::{CryptoError, RandomSource};
use tipline_core::report::{Contact, Person, Place, Precision, Report, When};

/// A deterministic random source for known-answer tests: SHA-256(seed || counter) blocks.
pub struct FixedRng {
    seed: Vec<u8>,
    counter: u64,
}

impl FixedRng {
    pub fn new(seed: &str) -> Self {
        Self {
            seed: seed.as_bytes().to_vec(),
            counter: 0,
        }
    }
}

impl RandomSource for FixedRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        for chunk in dest.chunks_mut(32) {
            let mut input = self.seed.clone();
            input.extend_from_slice(&self.counter.to_be_bytes());
            self.counter += 1;
            let block = tipline_core::crypto::sha256(&input);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

/// A complete, valid report for the case of `codename`.
pub fn report_for(codename: &Codename, text: &str) -> Report {
    let case = codename.derive().unwrap();
    Report {
        category: "radicalisation".into(),
        text: text.into(),
        when: Some(When::Between {
            from: "2026-11-01T18:00:00Z".parse().unwrap(),
            to: "2026-11-01T20:00:00Z".parse().unwrap(),
        }),
        place: Some(Place::blur(55.6761, 12.5683, Precision::Neighbourhood).unwrap()),
        people: vec![Person {
            name: Some("K.".into()),
            description: "Around 20, recruits at the gym".into(),
        }],
        contact: Some(Contact {
            email: Some("reporter@example.org".into()),
            ..Contact::default()
        }),
        language: "da".into(),
        attachments: vec![],
        case_id: case.case_id,
        reply_key: case.reply_key.public_key(),
    }
}

/// A valid report with a fresh codename.
pub fn report(text: &str) -> Report {
    report_for(&Codename::generate().unwrap(), text)
}

/// The sample directory with fresh keys for every unit, signed by a fresh authority and verified.
pub fn sample_directory() -> tipline_core::directory::VerifiedDirectory {
    let authority = tipline_core::keys::SigningKey::generate().unwrap();
    let mut source = tipline_core::directory::sample_source().unwrap();
    let units: Vec<_> = source
        .units
        .iter()
        .map(|u| tipline_core::keys::UnitKeyFile::generate(&u.id).unwrap())
        .collect();
    for unit in &units {
        let public = unit.public().unwrap();
        source
            .set_unit_keys(&unit.unit_id, public.encryption_key, public.verifying_key)
            .unwrap();
    }
    let signed = source
        .into_body(1, chrono::Utc::now(), chrono::Duration::days(30))
        .unwrap()
        .sign(&authority)
        .unwrap();
    signed
        .verify(&authority.verifying_key(), chrono::Utc::now(), None)
        .unwrap()
}
