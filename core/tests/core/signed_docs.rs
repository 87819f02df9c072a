//! Receipts and alerts: signed documents with domain-separated signatures.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use tipline_core::alert::{Alert, Severity};
use tipline_core::envelope::seal_report;
use tipline_core::keys::{EncryptionSecretKey, SigningKey};
use tipline_core::receipt::Receipt;
use tipline_core::report::MessageId;
use tipline_core::signed::{Context, Signed};

use crate::support::report;

fn alert(unit_id: &str) -> Alert {
    let now = Utc::now();
    Alert {
        alert_id: MessageId::random().unwrap(),
        unit_id: unit_id.into(),
        regions: vec!["DK-84".into()],
        severity: Severity::Warning,
        title: BTreeMap::from([
            ("da".into(), "Falske opslag".into()),
            ("en".into(), "Fake posts".into()),
        ]),
        body: BTreeMap::from([
            ("da".into(), "Del ikke videoen.".into()),
            ("en".into(), "Do not share the video.".into()),
        ]),
        issued_at: now,
        expires_at: now + Duration::days(2),
    }
}

#[test]
fn test_receipt_proves_the_exact_envelope() {
    // Given a sealed report and the server's key
    let unit = EncryptionSecretKey::generate().unwrap();
    let server = SigningKey::generate().unwrap();
    let sealed = seal_report(&report("tip"), "u", &unit.public_key()).unwrap();
    // When the server signs a receipt for it
    let signed = Receipt::for_envelope(&sealed.envelope, Utc::now())
        .sign(&server)
        .unwrap();
    // Then it verifies for that envelope, and not for another one or under another key
    let receipt = Receipt::verify(&signed, &server.verifying_key(), &sealed.envelope).unwrap();
    assert_eq!(receipt.report_id, sealed.report_id);
    let other = seal_report(&report("tip"), "u", &unit.public_key()).unwrap();
    assert!(Receipt::verify(&signed, &server.verifying_key(), &other.envelope).is_err());
    let impostor = SigningKey::generate().unwrap();
    assert!(Receipt::verify(&signed, &impostor.verifying_key(), &sealed.envelope).is_err());
}

#[test]
fn test_alert_checks_signature_unit_and_expiry() {
    let unit = SigningKey::generate().unwrap();
    let signed = alert("dk-infohus-vestegn").sign(&unit).unwrap();
    let now = Utc::now();
    assert!(Alert::verify(&signed, "dk-infohus-vestegn", &unit.verifying_key(), now).is_ok());
    // Forged: signed by a key the directory does not list for the unit.
    let forger = SigningKey::generate().unwrap();
    let forged = alert("dk-infohus-vestegn").sign(&forger).unwrap();
    let err = Alert::verify(&forged, "dk-infohus-vestegn", &unit.verifying_key(), now)
        .err()
        .unwrap();
    assert!(err.to_string().contains("refused alert"), "{err}");
    // Claiming another unit, and expired.
    assert!(Alert::verify(&signed, "es-citco", &unit.verifying_key(), now).is_err());
    let err = Alert::verify(
        &signed,
        "dk-infohus-vestegn",
        &unit.verifying_key(),
        now + Duration::days(3),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn test_a_signature_for_one_kind_never_passes_as_another() {
    // Given a receipt-shaped payload signed as an alert, and vice versa
    let key = SigningKey::generate().unwrap();
    let doc = serde_json::json!({"any": "payload"});
    let as_alert = Signed::sign(Context::Alert, &doc, &key).unwrap();
    // Then it does not verify in any other context
    for other in [Context::Directory, Context::Receipt, Context::Reply] {
        assert!(as_alert
            .verify::<serde_json::Value>(other, &key.verifying_key())
            .is_err());
    }
    assert!(as_alert
        .verify::<serde_json::Value>(Context::Alert, &key.verifying_key())
        .is_ok());
}

#[test]
fn test_alert_localisation_falls_back() {
    let a = alert("u");
    assert_eq!(a.localised("da", "en").0, "Falske opslag");
    assert_eq!(a.localised("ar", "en").0, "Fake posts");
    assert_eq!(a.localised("ar", "es").0, "Falske opslag");
}
