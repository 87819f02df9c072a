//! Case messages: replies signed by the unit and sealed to the reply key; follow-ups to the unit.

use tipline_core::codename::Codename;
use tipline_core::crypto::OsRandom;
use tipline_core::keys::{EncryptionSecretKey, SigningKey};
use tipline_core::message::{
    open_follow_up, open_reply, seal_follow_up_with_rng, seal_reply_with_rng, CaseMessage,
};
use tipline_core::report::{CaseId, MessageId};

fn message(case_id: CaseId, text: &str) -> CaseMessage {
    CaseMessage {
        case_id,
        message_id: MessageId::random().unwrap(),
        unit_id: "dk-infohus-vestegn".into(),
        text: text.into(),
        sent_at: "2026-11-02T09:00:00Z".parse().unwrap(),
    }
}

#[test]
fn test_reply_reaches_the_reporter_on_another_device() {
    // Given a case whose codename the reporter wrote down, and a unit's signing key
    let codename = Codename::generate().unwrap();
    let unit = SigningKey::generate().unwrap();
    let case = codename.derive().unwrap();
    // When the unit replies, sealed to the reply key from the report
    let reply = message(case.case_id, "Tak. Kan du fortælle mere om gruppechatten?");
    let envelope =
        seal_reply_with_rng(&reply, &unit, &case.reply_key.public_key(), &mut OsRandom::new()).unwrap();
    // Then a second device that only knows the codename opens it and checks the unit's signature
    let recovered = Codename::parse(&codename.to_phrase()).unwrap().derive().unwrap();
    assert_eq!(
        open_reply(&envelope, &recovered, &unit.verifying_key()).unwrap(),
        reply
    );
}

#[test]
fn test_reply_signed_by_another_unit_or_for_another_case_is_refused() {
    let case = Codename::generate().unwrap().derive().unwrap();
    let unit = SigningKey::generate().unwrap();
    let impostor = SigningKey::generate().unwrap();
    let reply = message(case.case_id, "hello");
    let forged = seal_reply_with_rng(
        &reply,
        &impostor,
        &case.reply_key.public_key(),
        &mut OsRandom::new(),
    )
    .unwrap();
    let err = open_reply(&forged, &case, &unit.verifying_key()).err().unwrap();
    assert!(err.to_string().contains("refused reply"), "{err}");

    // A reply for another case, sealed to this case's key, is refused too.
    let other_case = message(CaseId::random().unwrap(), "hello");
    let misplaced = seal_reply_with_rng(
        &other_case,
        &unit,
        &case.reply_key.public_key(),
        &mut OsRandom::new(),
    )
    .unwrap();
    let err = open_reply(&misplaced, &case, &unit.verifying_key())
        .err()
        .unwrap();
    assert!(err.to_string().contains("another case"), "{err}");
}

#[test]
fn test_follow_up_round_trip_and_case_binding() {
    let unit = EncryptionSecretKey::generate().unwrap();
    let case = Codename::generate().unwrap().derive().unwrap();
    let follow_up = message(case.case_id, "He posted again tonight.");
    let envelope = seal_follow_up_with_rng(&follow_up, &unit.public_key(), &mut OsRandom::new()).unwrap();
    assert_eq!(
        open_follow_up(&envelope, "dk-infohus-vestegn", case.case_id, &unit).unwrap(),
        follow_up
    );
    assert!(open_follow_up(&envelope, "dk-infohus-vestegn", CaseId::random().unwrap(), &unit).is_err());
    let err = open_follow_up(&envelope, "es-citco", case.case_id, &unit)
        .err()
        .unwrap();
    assert!(err.to_string().contains("another unit"), "{err}");
}
