//! Case messages: replies signed by the unit and sealed to the reply key; follow-ups to the unit.

use tipline_core::codename::Codename;
use tipline_core::crypto::OsRandom;
use tipline_core::keys::{EncryptionSecretKey, SigningKey};
use tipline_core::message::{
    open_follow_up, open_reply, open_unit_message, seal_follow_up_with_rng, seal_notice_with_rng,
    seal_reply_with_rng, CaseMessage, CaseStatus, StatusNotice, UnitMessage,
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

fn notice(case_id: CaseId, status: CaseStatus) -> StatusNotice {
    StatusNotice {
        case_id,
        message_id: MessageId::random().unwrap(),
        unit_id: "dk-infohus-vestegn".into(),
        status,
        text: "Vi har modtaget din henvendelse.".into(),
        sent_at: "2026-11-02T09:00:00Z".parse().unwrap(),
    }
}

#[test]
fn test_a_status_notice_reaches_the_reporter_and_is_told_apart_from_a_reply() {
    // Given a case and a unit
    let case = Codename::generate().unwrap().derive().unwrap();
    let unit = SigningKey::generate().unwrap();
    let sent = notice(case.case_id, CaseStatus::Received);

    // When the unit sends a status notice and a reply
    let notice_envelope =
        seal_notice_with_rng(&sent, &unit, &case.reply_key.public_key(), &mut OsRandom::new()).unwrap();
    let reply = message(case.case_id, "Tak for din henvendelse.");
    let reply_envelope =
        seal_reply_with_rng(&reply, &unit, &case.reply_key.public_key(), &mut OsRandom::new()).unwrap();

    // Then the reporter opens each as what it is
    assert_eq!(
        open_unit_message(&notice_envelope, &case, &unit.verifying_key()).unwrap(),
        UnitMessage::Notice(sent)
    );
    assert_eq!(
        open_unit_message(&reply_envelope, &case, &unit.verifying_key()).unwrap(),
        UnitMessage::Reply(reply)
    );
    // And a client that knows only replies leaves the notice out instead of showing it as one
    let err = open_reply(&notice_envelope, &case, &unit.verifying_key())
        .err()
        .unwrap();
    assert!(err.to_string().contains("refused reply"), "{err}");
}

#[test]
fn test_a_forged_or_misplaced_status_notice_is_refused() {
    let case = Codename::generate().unwrap().derive().unwrap();
    let unit = SigningKey::generate().unwrap();
    let impostor = SigningKey::generate().unwrap();
    let reply_key = case.reply_key.public_key();

    let forged = seal_notice_with_rng(
        &notice(case.case_id, CaseStatus::Closed),
        &impostor,
        &reply_key,
        &mut OsRandom::new(),
    )
    .unwrap();
    assert!(open_unit_message(&forged, &case, &unit.verifying_key()).is_err());

    let misplaced = seal_notice_with_rng(
        &notice(CaseId::random().unwrap(), CaseStatus::Closed),
        &unit,
        &reply_key,
        &mut OsRandom::new(),
    )
    .unwrap();
    let err = open_unit_message(&misplaced, &case, &unit.verifying_key())
        .err()
        .unwrap();
    assert!(err.to_string().contains("another case"), "{err}");

    let mut blank = notice(case.case_id, CaseStatus::InProgress);
    blank.text = "  ".into();
    assert!(seal_notice_with_rng(&blank, &unit, &reply_key, &mut OsRandom::new()).is_err());
}

#[test]
fn test_case_status_names_are_the_wire_names() {
    for status in CaseStatus::ALL {
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(json, format!("\"{}\"", status.name()));
        assert_eq!(CaseStatus::parse(status.name()).unwrap(), status);
    }
    assert!(CaseStatus::parse("open").is_err());
}
