//! The device's local store: outbox rows survive a reopen, case book records are sealed.

use chrono::Utc;
use tipline_core::client::keystore::{FileKeyStore, KeyStore, StaticKeyStore};
use tipline_core::client::local::{Local, OutboxRow, OutboxState, MAX_PENDING_FOLLOW_UPS};
use tipline_core::codename::Codename;
use tipline_core::report::ReportId;

fn row(report_id: ReportId) -> OutboxRow {
    let case = Codename::generate().unwrap().derive().unwrap();
    OutboxRow {
        report_id,
        unit_id: "dk-national-hotline".into(),
        case_id: case.case_id,
        case_secret_hash: case.case_secret_hash(),
        envelope: vec![1, 2, 3],
        state: OutboxState::Queued,
        attempts: 0,
        next_attempt: Utc::now(),
        last_error: None,
        stamp: None,
        receipt: None,
        refusal: None,
        created: Utc::now(),
        attachments: vec![(0, 116, 0)],
    }
}

#[test]
fn test_outbox_survives_reopen_with_progress_and_failures() {
    // Given an outbox with one item whose upload got halfway and whose last attempt failed
    let dir = tempfile::tempdir().unwrap();
    let key = StaticKeyStore::new([1; 32]).key("local").unwrap();
    let id = ReportId::random().unwrap();
    {
        let local = Local::open(dir.path(), &key).unwrap();
        local.enqueue(&row(id)).unwrap();
        local.set_stamp(id, 77, 16).unwrap();
        local.set_uploaded(id, 0, 58).unwrap();
        local.set_waiting(id, "reason-offline", Utc::now()).unwrap();
    }
    // When the app is killed and the store reopened
    let local = Local::open(dir.path(), &key).unwrap();
    let items = local.outbox().unwrap();
    // Then the item is there with everything it had
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (item.report_id, item.state, item.attempts),
        (id, OutboxState::Queued, 1)
    );
    assert_eq!(item.stamp, Some((77, 16)));
    assert_eq!(item.attachments, vec![(0, 116, 58)]);
    assert_eq!(item.last_error.as_deref(), Some("reason-offline"));
    // And a refusal is kept (never dropped) with the server's status and code, then retried on
    // request
    local
        .set_refused(id, "reason-rejected", 422, "bad_envelope")
        .unwrap();
    let refused = &local.outbox().unwrap()[0];
    assert_eq!(refused.state, OutboxState::Failed);
    assert_eq!(refused.refusal, Some((422, "bad_envelope".to_string())));
    assert!(local.retry(id, Utc::now()).unwrap());
    let again = &local.outbox().unwrap()[0];
    assert_eq!((again.state, again.refusal.clone()), (OutboxState::Queued, None));
    // And a receipt that does not verify is kept with the item, which no retry puts back
    local.set_receipt_unverified(id, b"{}").unwrap();
    let kept = &local.outbox().unwrap()[0];
    assert_eq!(
        (kept.state, kept.receipt.as_deref()),
        (OutboxState::ReceiptUnverified, Some(&b"{}"[..]))
    );
    assert!(!local.retry(id, Utc::now()).unwrap());
    local.set_delivered(id, Utc::now()).unwrap();
    assert_eq!(local.outbox().unwrap()[0].state, OutboxState::Delivered);
    assert!(!local.retry(id, Utc::now()).unwrap());
}

#[test]
fn test_only_what_waited_for_the_network_is_made_due_when_it_returns() {
    // Given three waiting items: one offline, one behind a busy server, one refused
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), &[1; 32]).unwrap();
    let later = Utc::now() + chrono::Duration::minutes(30);
    let ids: Vec<ReportId> = (0..3).map(|_| ReportId::random().unwrap()).collect();
    for id in &ids {
        local.enqueue(&row(*id)).unwrap();
    }
    local.set_waiting(ids[0], "reason-offline", later).unwrap();
    local.set_waiting(ids[1], "reason-busy", later).unwrap();
    local
        .set_refused(ids[2], "reason-rejected", 403, "forbidden")
        .unwrap();
    // When the network returns
    let now = Utc::now();
    assert_eq!(local.make_due("reason-offline", now).unwrap(), 1);
    // Then only the offline one is due now
    let due: Vec<ReportId> = local
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|r| r.state == OutboxState::Queued && r.next_attempt <= now)
        .map(|r| r.report_id)
        .collect();
    assert_eq!(due, [ids[0]]);
}

#[test]
fn test_case_book_is_sealed_at_rest() {
    // Given a case and a message stored under a key-store key
    let dir = tempfile::tempdir().unwrap();
    let keys = FileKeyStore::new(dir.path().join("keys/master"));
    let key = keys.key("local").unwrap();
    assert_eq!(
        keys.key("local").unwrap(),
        key,
        "a file key store gives the same key again"
    );
    let codename = Codename::generate().unwrap();
    let phrase = codename.to_phrase().to_string();
    let case = codename.derive().unwrap();
    {
        let local = Local::open(dir.path(), &key).unwrap();
        local
            .add_case(case.case_id, "es-stop-radicalismos", &phrase, Utc::now())
            .unwrap();
        local
            .add_message(case.case_id, "m1", 3, br#"{"text":"Gracias por avisar"}"#)
            .unwrap();
    }
    // Then neither the codename nor the message is in the database file in clear
    let mut raw = std::fs::read(dir.path().join("tipline-client.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("tipline-client.db-wal")) {
        raw.extend(wal);
    }
    let first_word = phrase.split(' ').next().unwrap();
    assert!(!raw.windows(phrase.len()).any(|w| w == phrase.as_bytes()));
    assert!(!raw
        .windows(first_word.len() + 1)
        .any(|w| w == format!("{first_word} ").as_bytes()));
    assert!(!raw.windows(7).any(|w| w == b"Gracias"));
    // And with the key they read back; with another key they do not
    let local = Local::open(dir.path(), &key).unwrap();
    let cases = local.cases().unwrap();
    assert_eq!(cases[0].codename.as_str(), phrase);
    assert_eq!(cases[0].last_seq, 3);
    assert_eq!(
        local.messages(case.case_id).unwrap()[0].as_slice(),
        br#"{"text":"Gracias por avisar"}"#
    );
    drop(local);
    let wrong = Local::open(dir.path(), &[9; 32]).unwrap();
    assert!(wrong.cases().is_err());
}

#[test]
fn test_pending_follow_ups_are_sealed_capped_and_settled_by_the_message() {
    // Given a case with more unconfirmed follow-ups than are kept
    let dir = tempfile::tempdir().unwrap();
    let key = StaticKeyStore::new([3; 32]).key("local").unwrap();
    let local = Local::open(dir.path(), &key).unwrap();
    let case = Codename::generate().unwrap();
    let case_id = case.derive().unwrap().case_id;
    local
        .add_case(case_id, "dk-sjp", &case.to_phrase(), Utc::now())
        .unwrap();
    let start = Utc::now();
    for n in 0..MAX_PENDING_FOLLOW_UPS + 2 {
        let at = start + chrono::Duration::seconds(i64::from(n));
        let json = format!("{{\"n\":{n},\"text\":\"pending words {n}\"}}");
        local
            .add_pending_follow_up(case_id, &format!("m{n}"), json.as_bytes(), at)
            .unwrap();
    }
    // Then only the newest are kept, newest first, and none is readable at rest
    let kept: Vec<String> = local
        .pending_follow_ups(case_id)
        .unwrap()
        .iter()
        .map(|json| String::from_utf8(json.to_vec()).unwrap())
        .collect();
    assert_eq!(kept.len(), MAX_PENDING_FOLLOW_UPS as usize);
    assert!(kept[0].contains("\"n\":11"));
    assert!(kept
        .iter()
        .all(|json| !json.contains("\"n\":0,") && !json.contains("\"n\":1,")));
    drop(local);
    let file = std::fs::read(dir.path().join("tipline-client.db")).unwrap();
    let wal = std::fs::read(dir.path().join("tipline-client.db-wal")).unwrap_or_default();
    for bytes in [file, wal] {
        assert!(!String::from_utf8_lossy(&bytes).contains("pending words"));
    }
    // When the message of one of them is stored (the server confirmed it)
    let local = Local::open(dir.path(), &key).unwrap();
    local.add_message(case_id, "m11", 4, b"{}").unwrap();
    // Then that one is no longer pending
    let left = local.pending_follow_ups(case_id).unwrap();
    assert_eq!(left.len(), MAX_PENDING_FOLLOW_UPS as usize - 1);
    assert!(left
        .iter()
        .all(|json| !String::from_utf8_lossy(json).contains("\"n\":11")));
}
