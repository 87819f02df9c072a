//! Receipts and alerts: signed documents with domain-separated signatures.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use tipline_core::alert::{Alert, Severity};
use tipline_core::envelope::seal_report;
use tipline_core::keys::{EncryptionSecretKey, SigningKey};
use tipline_core::receipt::{sign_batch, Receipt, SignedReceipt, MAX_BATCH};
use tipline_core::report::MessageId;
use tipline_core::signed::{DocumentKind, Signed};

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
    // When the server signs a receipt for it alone
    let signed = sign_batch(vec![Receipt::for_envelope(&sealed.envelope, Utc::now())], &server)
        .unwrap()
        .remove(0);
    // Then it verifies for that envelope, and not for another one or under another key
    let receipt = signed.verify(&server.verifying_key(), &sealed.envelope).unwrap();
    assert_eq!(receipt.report_id, sealed.report_id);
    let other = seal_report(&report("tip"), "u", &unit.public_key()).unwrap();
    assert!(signed.verify(&server.verifying_key(), &other.envelope).is_err());
    let impostor = SigningKey::generate().unwrap();
    assert!(signed
        .verify(&impostor.verifying_key(), &sealed.envelope)
        .is_err());
}

#[test]
fn test_a_batch_signs_once_and_each_receipt_proves_only_its_own_report() {
    // Given five reports received together
    let unit = EncryptionSecretKey::generate().unwrap();
    let server = SigningKey::generate().unwrap();
    let now = Utc::now();
    let sealed: Vec<_> = (0..5)
        .map(|i| seal_report(&report(&format!("tip {i}")), "u", &unit.public_key()).unwrap())
        .collect();
    let receipts = sealed
        .iter()
        .map(|s| Receipt::for_envelope(&s.envelope, now))
        .collect();
    // When the server signs them as one batch
    let signed = sign_batch(receipts, &server).unwrap();
    // Then all share one signature, each verifies for its own envelope and for no other
    let key = server.verifying_key();
    assert!(signed.iter().all(|r| r.batch == signed[0].batch));
    for (i, receipt) in signed.iter().enumerate() {
        assert_eq!(receipt.leaf_index as usize, i);
        receipt.verify(&key, &sealed[i].envelope).unwrap();
        assert!(receipt.verify(&key, &sealed[(i + 1) % 5].envelope).is_err());
    }
    // And a receipt moved to another leaf, given another time, or another leaf's proof fails
    let mut moved = signed[1].clone();
    moved.leaf_index = 2;
    assert!(moved.verify(&key, &sealed[1].envelope).is_err());
    let mut later = signed[1].clone();
    later.receipt.received_at += Duration::seconds(1);
    assert!(later.verify(&key, &sealed[1].envelope).is_err());
    let mut borrowed = signed[1].clone();
    borrowed.proof = signed[2].proof.clone();
    assert!(borrowed.verify(&key, &sealed[1].envelope).is_err());
    // And the JSON form round-trips and is closed
    let json = serde_json::to_value(&signed[3]).unwrap();
    let back: SignedReceipt = serde_json::from_value(json.clone()).unwrap();
    back.verify(&key, &sealed[3].envelope).unwrap();
    let mut extra = json;
    extra["note"] = "x".into();
    assert!(serde_json::from_value::<SignedReceipt>(extra).is_err());
}

#[test]
fn test_a_batch_refuses_no_receipts_too_many_and_split_seconds() {
    let server = SigningKey::generate().unwrap();
    let unit = EncryptionSecretKey::generate().unwrap();
    let sealed = seal_report(&report("tip"), "u", &unit.public_key()).unwrap();
    assert!(sign_batch(Vec::new(), &server).is_err());
    let one = Receipt::for_envelope(&sealed.envelope, Utc::now());
    assert!(sign_batch(vec![one.clone(); MAX_BATCH + 1], &server).is_err());
    let mut split = one;
    split.received_at += Duration::milliseconds(250);
    assert!(sign_batch(vec![split], &server).is_err());
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
    let as_alert = Signed::sign(DocumentKind::Alert, &doc, &key).unwrap();
    // Then it does not verify in any other context
    for other in [
        DocumentKind::Directory,
        DocumentKind::ReceiptBatch,
        DocumentKind::Reply,
    ] {
        assert!(as_alert
            .verify::<serde_json::Value>(other, &key.verifying_key())
            .is_err());
    }
    assert!(as_alert
        .verify::<serde_json::Value>(DocumentKind::Alert, &key.verifying_key())
        .is_ok());
}

#[test]
fn test_alert_localisation_falls_back() {
    let a = alert("u");
    assert_eq!(a.localised("da", "en").0, "Falske opslag");
    assert_eq!(a.localised("ar", "en").0, "Fake posts");
    assert_eq!(a.localised("ar", "es").0, "Falske opslag");
}
