//! The frozen golden v1 vector: an envelope with one attachment, made once with a deterministic
//! random source and committed in `tests/data/golden-v1.json`. Every later version of the code
//! must still open it, and sealing the same inputs must still give the same bytes.

use serde::{Deserialize, Serialize};
use tipline_core::attachment::{self, AttachmentKey};
use tipline_core::codename::Codename;
use tipline_core::crypto::Suite;
use tipline_core::encoding::{b64, unb64};
use tipline_core::envelope::{open_report, seal_report_with_rng, Envelope};
use tipline_core::keys::EncryptionSecretKey;
use tipline_core::report::{Report, ReportId};

use crate::support::{report_for, FixedRng};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v1.json");

#[derive(Serialize, Deserialize)]
struct Golden {
    description: String,
    rng_seed: String,
    unit_id: String,
    unit_secret_key: String,
    unit_public_key: String,
    codename: String,
    case_id: String,
    case_secret: String,
    reply_public_key: String,
    report_id: String,
    report: serde_json::Value,
    envelope: String,
    attachment_plaintext: String,
    attachment_sealed: String,
}

/// Builds the vector from the fixed random source, in a fixed order of draws.
fn build() -> Golden {
    let seed = "tipline golden v1";
    let mut rng = FixedRng::new(seed);
    let unit = EncryptionSecretKey::generate_with_rng(&mut rng).unwrap();
    let codename = Codename::draw_with_rng(&mut rng).unwrap();
    let case = codename.derive().unwrap();
    let report_id = ReportId::random_with_rng(&mut rng).unwrap();
    let photo: Vec<u8> = (0..100u8).collect();
    let mut report = report_for(
        &codename,
        "Golden vector: a tip about a recruiter, with one photo.",
    );
    report
        .attachments
        .push(attachment::describe(0, "photo.jpg", "image/jpeg", &mut &photo[..]).unwrap());
    let sealed = seal_report_with_rng(
        &report,
        Suite::X25519_CHACHA,
        "dk-national-hotline",
        &unit.public_key(),
        report_id,
        &mut rng,
    )
    .unwrap();
    let mut attachment_sealed = Vec::new();
    let key = AttachmentKey::derive(&sealed.context, 0).unwrap();
    attachment::encrypt(&key, &mut &photo[..], &mut attachment_sealed).unwrap();
    Golden {
        description: "Envelope v1, suite 1 (X25519, HKDF-SHA256, ChaCha20Poly1305), kind 1 (report), \
                      with attachment 0. Random draws in order: unit key (32), codename (16), report id \
                      (16), ephemeral key (32); each from SHA-256(rng_seed || I2OSP(counter, 8))."
            .into(),
        rng_seed: seed.into(),
        unit_id: "dk-national-hotline".into(),
        unit_secret_key: b64(unit.to_bytes().as_ref()),
        unit_public_key: b64(&unit.public_key().0),
        codename: codename.to_phrase().to_string(),
        case_id: case.case_id.to_string(),
        case_secret: hex::encode(case.case_secret.as_ref()),
        reply_public_key: b64(&case.reply_key.public_key().0),
        report_id: report_id.to_string(),
        report: serde_json::to_value(&report).unwrap(),
        envelope: b64(&sealed.envelope.to_bytes()),
        attachment_plaintext: b64(&photo),
        attachment_sealed: b64(&attachment_sealed),
    }
}

fn frozen() -> Golden {
    serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap()
}

#[test]
#[ignore = "writes the golden file; run once when the v1 vector is first made, never again"]
fn write_golden_v1() {
    let json = serde_json::to_string_pretty(&build()).unwrap();
    std::fs::write(PATH, json + "\n").unwrap();
}

#[test]
fn test_golden_v1_envelope_still_opens() {
    // Given the frozen vector
    let g = frozen();
    let unit = EncryptionSecretKey::from_bytes(unb64(&g.unit_secret_key).unwrap().try_into().unwrap());
    // When its envelope is opened with today's code
    let envelope = Envelope::from_bytes(&unb64(&g.envelope).unwrap()).unwrap();
    let opened = open_report(&envelope, &g.unit_id, &unit).unwrap();
    // Then it gives the frozen report, and the attachment decrypts and matches its description
    let expected: Report = serde_json::from_value(g.report).unwrap();
    assert_eq!(opened.report, expected);
    assert_eq!(opened.report_id.to_string(), g.report_id);
    let key = AttachmentKey::derive(&opened.context, 0).unwrap();
    let mut photo = Vec::new();
    let sealed = unb64(&g.attachment_sealed).unwrap();
    attachment::decrypt(&key, &opened.report.attachments[0], &mut &sealed[..], &mut photo).unwrap();
    assert_eq!(photo, unb64(&g.attachment_plaintext).unwrap());
}

#[test]
fn test_golden_v1_codename_derivation_is_stable() {
    let g = frozen();
    let case = Codename::parse(&g.codename).unwrap().derive().unwrap();
    assert_eq!(case.case_id.to_string(), g.case_id);
    assert_eq!(hex::encode(case.case_secret.as_ref()), g.case_secret);
    assert_eq!(b64(&case.reply_key.public_key().0), g.reply_public_key);
}

#[test]
fn test_golden_v1_sealing_is_reproducible() {
    // Sealing the same inputs with the same random draws must give the same bytes, so any change
    // to the v1 format, padding or key schedule shows up here.
    let (g, fresh) = (frozen(), build());
    assert_eq!(fresh.envelope, g.envelope);
    assert_eq!(fresh.attachment_sealed, g.attachment_sealed);
    assert_eq!(fresh.report, g.report);
}
