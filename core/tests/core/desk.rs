//! The desk's local store: records sealed under a passphrase-derived key, a wrong passphrase
//! refused, attachments sealed at rest in chunks and checked again on export.

use chrono::Utc;
use tipline_core::attachment;
use tipline_core::desk::{AttachmentState, DeskStore, KdfParams, MessageRecord, ReportRecord, Status};
use tipline_core::report::{MessageId, ReportId};

use crate::support::report;

/// Cheap parameters: the tests check behaviour, not the cost.
const FAST: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};
const UNIT: &str = "dk-infohus-vestegnen";

fn record(text: &str) -> ReportRecord {
    let report = report(text);
    ReportRecord {
        report_id: ReportId::random().unwrap(),
        case_id: report.case_id,
        received_at: Utc::now(),
        stored_at: Utc::now(),
        envelope: "AQ".into(),
        attachments: vec![],
        report,
        status: Status::New,
        acked: true,
        transfer: None,
        last_seq: 0,
    }
}

#[test]
fn test_records_survive_reopen_and_a_wrong_passphrase_is_refused() {
    // Given a store with one report and one message
    let dir = tempfile::tempdir().unwrap();
    let stored = record("A recruiter at the youth club, every Friday.");
    let message = MessageRecord {
        message_id: MessageId::random().unwrap(),
        seq: 3,
        from_reporter: true,
        unit_id: UNIT.into(),
        text: Some("He was there again.".into()),
        sent_at: Some(Utc::now()),
        status: None,
    };
    {
        let store = DeskStore::open(dir.path(), UNIT, "correct horse", FAST).unwrap();
        store.put_report(&stored).unwrap();
        store.put_message(stored.report_id, &message).unwrap();
    }
    // When it is opened again with the same passphrase (other parameters are ignored: the stored
    // ones count), then everything is there
    let store = DeskStore::open(dir.path(), UNIT, "correct horse", KdfParams::default()).unwrap();
    assert_eq!(store.report(stored.report_id).unwrap(), Some(stored.clone()));
    assert_eq!(store.messages(stored.report_id).unwrap(), vec![message]);
    let prefix = &stored.report_id.to_string()[..8];
    assert_eq!(store.find(prefix).unwrap().report_id, stored.report_id);
    drop(store);
    // And a wrong passphrase is refused by name, as is another unit's key
    let err = DeskStore::open(dir.path(), UNIT, "wrong horse", FAST).unwrap_err();
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    let err = DeskStore::open(dir.path(), "es-citco", "correct horse", FAST).unwrap_err();
    assert!(err.to_string().contains("belongs to unit"), "{err}");
    // And nothing of the report is in the database file in clear
    let db = std::fs::read(dir.path().join("desk.db")).unwrap();
    let wal = std::fs::read(dir.path().join("desk.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!contains(&bytes, b"recruiter"));
        assert!(!contains(&bytes, b"He was there"));
    }
}

#[test]
fn test_a_report_is_marked_acknowledged_without_sealing_it_again_also_in_an_older_store() {
    // Given a store made before the acknowledged column (the column dropped again), holding
    // a report not yet acknowledged
    let dir = tempfile::tempdir().unwrap();
    let waiting = ReportRecord {
        acked: false,
        ..record("Flyers at the mosque door, twice this week.")
    };
    let other = ReportRecord {
        acked: false,
        ..record("A new account posting threats.")
    };
    {
        let store = DeskStore::open(dir.path(), UNIT, "pass", FAST).unwrap();
        store.put_reports(&[&waiting, &other]).unwrap();
    }
    let sealed_before = |id: ReportId| -> Vec<u8> {
        let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
        conn.query_row(
            "SELECT sealed FROM reports WHERE report_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .unwrap()
    };
    rusqlite::Connection::open(dir.path().join("desk.db"))
        .unwrap()
        .execute_batch("ALTER TABLE reports DROP COLUMN acked")
        .unwrap();
    let sealed = sealed_before(waiting.report_id);
    // When the store is opened and the one report marked acknowledged
    let store = DeskStore::open(dir.path(), UNIT, "pass", FAST).unwrap();
    assert!(!store.report(waiting.report_id).unwrap().unwrap().acked);
    store
        .mark_acked(&[waiting.report_id, ReportId::random().unwrap()])
        .unwrap();
    // Then it reads as acknowledged, alone, and its sealed record was not written again
    assert!(store.report(waiting.report_id).unwrap().unwrap().acked);
    assert!(!store.report(other.report_id).unwrap().unwrap().acked);
    let all = store.reports().unwrap();
    assert_eq!(all.iter().filter(|r| r.acked).count(), 1);
    drop(store);
    assert_eq!(sealed_before(waiting.report_id), sealed);
    // And storing the record again as a new arrival (not acknowledged) says so
    let store = DeskStore::open(dir.path(), UNIT, "pass", FAST).unwrap();
    store.put_report(&waiting).unwrap();
    assert!(!store.report(waiting.report_id).unwrap().unwrap().acked);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn test_attachments_are_sealed_in_chunks_and_checked_on_export() {
    // Given an attachment of two and a bit chunks, written through the store
    let dir = tempfile::tempdir().unwrap();
    let store = DeskStore::open(dir.path(), UNIT, "pass", FAST).unwrap();
    let id = ReportId::random().unwrap();
    let plain: Vec<u8> = b"PLAINTEXT-MARKER "
        .iter()
        .copied()
        .cycle()
        .take(2 * 65_536 + 1_000)
        .collect();
    let info = attachment::describe(0, "photo.jpg", "image/jpeg", &mut &plain[..]).unwrap();
    let mut writer = store.attachment_writer(id, 0).unwrap();
    for piece in plain.chunks(10_000) {
        std::io::Write::write_all(&mut writer, piece).unwrap();
    }
    writer.finish().unwrap();
    // Then the file holds no plaintext, reads back whole, and exports after its check
    let file = dir.path().join("files").join(format!("{id}-0.sealed"));
    let sealed = std::fs::read(&file).unwrap();
    assert!(!contains(&sealed, b"PLAINTEXT-MARKER"));
    let mut back = Vec::new();
    assert_eq!(
        store.read_attachment(id, 0, &mut back).unwrap(),
        plain.len() as u64
    );
    assert_eq!(back, plain);
    let out = dir.path().join("photo.jpg");
    store.export_attachment(id, &info, &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), plain);
    // But not when the report describes other bytes: nothing is written then
    let mut other = info.clone();
    other.sha256[0] ^= 1;
    let refused = dir.path().join("refused.jpg");
    assert!(store.export_attachment(id, &other, &refused).is_err());
    assert!(!refused.exists());
    // And a damaged or cut file is refused rather than read
    let mut damaged = sealed.clone();
    damaged[70_000] ^= 1;
    std::fs::write(&file, &damaged).unwrap();
    assert!(store.read_attachment(id, 0, &mut Vec::new()).is_err());
    std::fs::write(&file, &sealed[..2 * (65_536 + 28)]).unwrap();
    assert!(store.read_attachment(id, 0, &mut Vec::new()).is_err());
}

#[test]
fn test_status_names() {
    for status in [Status::New, Status::InProgress, Status::Forwarded, Status::Closed] {
        assert_eq!(Status::parse(status.name()).unwrap(), status);
    }
    assert_eq!(Status::parse("in_progress").unwrap(), Status::InProgress);
    assert!(Status::parse("archived").is_err());
    assert_eq!(
        serde_json::to_value(AttachmentState::Invalid { reason: "x".into() }).unwrap(),
        serde_json::json!({"state": "invalid", "reason": "x"})
    );
}

#[cfg(unix)]
#[test]
fn test_the_store_is_owner_only_on_disk() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // Given a store with a report (so its log files exist)
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("desk");
    let store = DeskStore::open(&store_dir, UNIT, "correct horse", FAST).unwrap();
    store.put_report(&record("text")).unwrap();
    // Then the folders are 0700 and the database and its log files 0600
    assert_eq!(mode(&store_dir), 0o700);
    assert_eq!(mode(&store_dir.join("files")), 0o700);
    for name in ["desk.db", "desk.db-wal", "desk.db-shm"] {
        assert_eq!(mode(&store_dir.join(name)), 0o600, "{name}");
    }
    // And a store made readable by others is tightened when it is opened again
    drop(store);
    std::fs::set_permissions(store_dir.join("desk.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    DeskStore::open(&store_dir, UNIT, "correct horse", FAST).unwrap();
    assert_eq!(mode(&store_dir.join("desk.db")), 0o600);
}

#[test]
fn test_a_change_made_from_an_older_copy_keeps_what_others_wrote_meanwhile() {
    // Given a stored report with an attachment still uploading, not yet acknowledged
    let dir = tempfile::tempdir().unwrap();
    let store = DeskStore::open(dir.path(), UNIT, "correct horse", FAST).unwrap();
    let mut first = record("text");
    first.acked = false;
    first.attachments = vec![AttachmentState::Pending];
    store.put_report(&first).unwrap();
    // and a copy read by the receiving loop before an officer changed its status and the
    // intake was told it is stored
    let older = store.report(first.report_id).unwrap().unwrap();
    store
        .update_report(&older, |r| r.status = Status::InProgress)
        .unwrap();
    store.mark_acked(&[first.report_id]).unwrap();

    // When the loop records the attachment from its older copy
    let after = store
        .update_report(&older, |r| r.attachments[0] = AttachmentState::Saved)
        .unwrap();

    // Then the status and the acknowledgement stay, with the attachment
    let stored = store.report(first.report_id).unwrap().unwrap();
    assert_eq!(stored, after);
    assert_eq!(stored.status, Status::InProgress);
    assert_eq!(stored.attachments, vec![AttachmentState::Saved]);
    assert!(stored.acked);

    // A report that came back under another envelope (handed on and back) is stored afresh
    let mut back = first.clone();
    back.envelope = "Ag".into();
    back.status = Status::New;
    let stored = store.update_report(&back, |_| {}).unwrap();
    assert_eq!((stored.envelope.as_str(), stored.status), ("Ag", Status::New));
}

#[test]
fn test_the_report_of_a_case_is_its_newest_and_found_after_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = DeskStore::open(dir.path(), UNIT, "correct horse", FAST).unwrap();
    let older = record("first");
    let mut newer = record("second, same case");
    newer.case_id = older.case_id;
    newer.report.case_id = older.case_id;
    newer.received_at = older.received_at + chrono::Duration::seconds(5);
    let other = record("another case");
    store.put_reports(&[&older, &other]).unwrap();
    // Found once the index is made from the records
    assert_eq!(
        store.report_for_case(older.case_id).unwrap().unwrap().report_id,
        older.report_id
    );
    // and kept up to date by later writes: a newer report of the case, and a new case
    store.put_report(&newer).unwrap();
    assert_eq!(
        store.report_for_case(older.case_id).unwrap().unwrap().report_id,
        newer.report_id
    );
    let later = record("a case stored after the index was made");
    store.update_report(&later, |_| {}).unwrap();
    assert_eq!(
        store.report_for_case(later.case_id).unwrap().unwrap().report_id,
        later.report_id
    );
    assert_eq!(
        store.report_for_case(other.case_id).unwrap().unwrap().report_id,
        other.report_id
    );
    assert!(store
        .report_for_case(tipline_core::report::CaseId::random().unwrap())
        .unwrap()
        .is_none());
}
