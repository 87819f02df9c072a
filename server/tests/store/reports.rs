//! Intake, leases, acknowledgement, transfer, retention and totals.

use chrono::Duration;
use tipline_core::api::bounds::PAGE_ENVELOPE_BYTES;
use tipline_core::envelope::MAX_ENVELOPE;
use tipline_server::store::{
    AttachmentProgress, DeclaredAttachment, StoreStats, SubmitOutcome, TransferOutcome,
};

use crate::{at, case_id, lease, new_report, open_store, report_id, secret, with_attachments, Backend};

async fn test_submit_new_report_is_created_with_its_case(backend: Backend) {
    // Given an empty store
    let (store, _dir) = open_store(backend).await;

    // When a report is submitted
    let outcome = store.submit_report(new_report(1, "dk-east")).await.unwrap();

    // Then it is created, and so is its case, for the report's unit
    assert_eq!(outcome, SubmitOutcome::Created);
    let case = store.case(case_id(1)).await.unwrap().unwrap();
    assert_eq!(case.unit_id, "dk-east");
    assert_eq!(case.case_secret_hash, secret(1));
    assert_eq!(
        store.stats().await.unwrap(),
        StoreStats {
            pending_reports: 1,
            acknowledged_reports: 0
        }
    );
}

async fn test_submit_same_envelope_again_is_duplicate_with_first_receipt(backend: Backend) {
    // Given a stored report
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When the same envelope comes again with a newer receipt (a retry)
    let mut retry = new_report(1, "dk-east");
    retry.receipt = b"a later receipt".to_vec();
    retry.received_at = at(100);
    let outcome = store.submit_report(retry).await.unwrap();

    // Then it is a duplicate carrying the first receipt, and nothing new is queued
    assert_eq!(
        outcome,
        SubmitOutcome::Duplicate {
            receipt: b"receipt-1".to_vec()
        }
    );
    assert_eq!(store.stats().await.unwrap().pending_reports, 1);
}

async fn test_submit_other_envelope_under_same_id_is_conflict(backend: Backend) {
    // Given a stored report
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When another envelope comes under the same report id
    let mut other = new_report(1, "dk-east");
    other.envelope = b"something else".to_vec();
    other.envelope_sha256 = [0xee; 32];
    let outcome = store.submit_report(other).await.unwrap();

    // Then it is a conflict, and the first envelope stays
    assert_eq!(outcome, SubmitOutcome::Conflict);
    let leased = lease(&*store, "dk-east", 10, 10).await;
    assert_eq!(leased[0].envelope, new_report(1, "dk-east").envelope);
}

async fn test_submit_case_with_other_secret_is_case_conflict_and_stores_nothing(backend: Backend) {
    // Given a case bound to secret 1
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When another report claims the same case id with another secret
    let mut intruder = with_attachments(new_report(2, "dk-east"), &[10]);
    intruder.case_id = case_id(1);
    let outcome = store.submit_report(intruder).await.unwrap();

    // Then it is a case conflict, and neither the report nor its attachment is stored
    assert_eq!(outcome, SubmitOutcome::CaseConflict);
    assert_eq!(store.stats().await.unwrap().pending_reports, 1);
    assert_eq!(store.attachment_state(report_id(2), 0, None).await.unwrap(), None);
    assert_eq!(
        store.case(case_id(1)).await.unwrap().unwrap().case_secret_hash,
        secret(1)
    );
}

async fn test_submit_second_report_in_same_case_is_created(backend: Backend) {
    // Given a case opened by report 1
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When the same reporter files report 2 in that case, with the same secret
    let mut second = new_report(2, "dk-east");
    second.case_id = case_id(1);
    second.case_secret_hash = secret(1);
    let outcome = store.submit_report(second).await.unwrap();

    // Then it is created and both reports are queued
    assert_eq!(outcome, SubmitOutcome::Created);
    assert_eq!(store.stats().await.unwrap().pending_reports, 2);
}

async fn test_failed_write_does_not_spoil_the_others_in_its_batch(backend: Backend) {
    // Given a store and a burst of submissions, one of which breaks a constraint (an attachment
    // index declared twice)
    let (store, _dir) = open_store(backend).await;
    let mut bad = new_report(99, "dk-east");
    bad.attachments = vec![
        DeclaredAttachment {
            index: 0,
            sealed_size: 1,
        },
        DeclaredAttachment {
            index: 0,
            sealed_size: 2,
        },
    ];
    let mut tasks = Vec::new();
    for n in 1..=40u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.submit_report(new_report(n, "dk-east")).await
        }));
    }
    let bad_task = {
        let store = store.clone();
        tokio::spawn(async move { store.submit_report(bad).await })
    };

    // When they all complete
    let bad_result = bad_task.await.unwrap();
    for task in tasks {
        // Then every good one is created
        assert_eq!(task.await.unwrap().unwrap(), SubmitOutcome::Created);
    }

    // And the bad one failed alone, leaving neither its report nor its case behind
    assert!(bad_result.is_err());
    assert_eq!(store.stats().await.unwrap().pending_reports, 40);
    assert_eq!(store.case(case_id(99)).await.unwrap(), None);
}

async fn test_lease_is_not_given_again_before_expiry(backend: Backend) {
    // Given two queued reports for a unit and one for another unit
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(2, "dk-east")).await.unwrap();
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    store.submit_report(new_report(3, "dk-west")).await.unwrap();

    // When the unit leases them for a minute
    let first = lease(&*store, "dk-east", 10, 10).await;

    // Then it gets its own two (not the other unit's), oldest received first, delivered once, leased until now + 60 s
    let ids: Vec<_> = first.iter().map(|delivery| delivery.report_id).collect();
    assert_eq!(ids, vec![report_id(1), report_id(2)]);
    assert!(first
        .iter()
        .all(|d| d.delivery_count == 1 && d.lease_until == at(70)));
    assert_eq!(first[0].received_at, at(1));
    assert_eq!(first[0].case_id, case_id(1));

    // And leasing again before the lease ends gives nothing
    let again = lease(&*store, "dk-east", 69, 10).await;
    assert!(again.is_empty());
}

async fn test_lease_expired_is_delivered_again_with_count_two(backend: Backend) {
    // Given a report leased until t+70
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[5]))
        .await
        .unwrap();
    lease(&*store, "dk-east", 10, 10).await;

    // When the unit leases after the lease ended
    let again = lease(&*store, "dk-east", 70, 10).await;

    // Then the report comes again, counted as its second delivery, with its attachment state
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery_count, 2);
    assert_eq!(again[0].lease_until, at(130));
    assert_eq!(
        again[0].attachments,
        vec![AttachmentProgress {
            index: 0,
            sealed_size: 5,
            received: 0
        }]
    );
}

async fn test_lease_respects_limit(backend: Backend) {
    // Given three queued reports
    let (store, _dir) = open_store(backend).await;
    for n in 1..=3 {
        store.submit_report(new_report(n, "dk-east")).await.unwrap();
    }

    // When the unit leases two, then asks for more
    let first = lease(&*store, "dk-east", 10, 2).await;
    let rest = lease(&*store, "dk-east", 11, 2).await;

    // Then it gets the two oldest, then the third
    assert_eq!(
        first.iter().map(|d| d.report_id).collect::<Vec<_>>(),
        vec![report_id(1), report_id(2)]
    );
    assert_eq!(
        rest.iter().map(|d| d.report_id).collect::<Vec<_>>(),
        vec![report_id(3)]
    );
}

async fn test_lease_stops_at_the_page_budget_and_leaves_the_rest_queued(backend: Backend) {
    // Given five queued reports whose envelopes are as large as envelopes get
    let (store, _dir) = open_store(backend).await;
    for n in 1..=5 {
        let mut report = new_report(n, "dk-east");
        report.envelope = vec![n; MAX_ENVELOPE];
        store.submit_report(report).await.unwrap();
    }

    // When the unit asks for all of them, twice
    let first = lease(&*store, "dk-east", 10, 100).await;
    let rest = lease(&*store, "dk-east", 11, 100).await;

    // Then the first page holds what fits the budget (three), and the other two were not
    // leased with it: the next request gets them at once
    assert_eq!(first.len(), PAGE_ENVELOPE_BYTES / MAX_ENVELOPE);
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|d| d.envelope.len() == MAX_ENVELOPE));
    assert_eq!(
        rest.iter().map(|d| d.report_id).collect::<Vec<_>>(),
        vec![report_id(4), report_id(5)]
    );
    assert!(rest.iter().all(|d| d.delivery_count == 1));
}

async fn test_next_lease_expiry_is_earliest_unacknowledged_lease(backend: Backend) {
    // Given a unit with nothing leased
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    store.submit_report(new_report(2, "dk-east")).await.unwrap();
    assert_eq!(store.next_lease_expiry("dk-east").await.unwrap(), None);

    // When one report is leased until t+70 and the other until t+40, then the second is acked
    lease(&*store, "dk-east", 10, 1).await;
    store
        .lease_reports("dk-east", at(20), Duration::seconds(20), 1)
        .await
        .unwrap();
    let earliest = store.next_lease_expiry("dk-east").await.unwrap();
    store.ack_report("dk-east", report_id(2), at(21)).await.unwrap();

    // Then the earliest expiry is t+40 while both are out, t+70 after the ack
    assert_eq!(earliest, Some(at(40)));
    assert_eq!(store.next_lease_expiry("dk-east").await.unwrap(), Some(at(70)));
    assert_eq!(store.next_lease_expiry("dk-west").await.unwrap(), None);
}

async fn test_ack_is_idempotent_and_other_unit_cannot_ack(backend: Backend) {
    // Given a leased report of dk-east
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    lease(&*store, "dk-east", 10, 10).await;

    // When another unit acks it, then its unit acks it twice, then anyone acks an unknown report
    let by_other = store.ack_report("dk-west", report_id(1), at(11)).await.unwrap();
    let first = store.ack_report("dk-east", report_id(1), at(12)).await.unwrap();
    let second = store.ack_report("dk-east", report_id(1), at(13)).await.unwrap();
    let unknown = store.ack_report("dk-east", report_id(9), at(14)).await.unwrap();

    // Then only the unit's acks count, both true; the report is never delivered again
    assert!(!by_other);
    assert!(first);
    assert!(second);
    assert!(!unknown);
    assert_eq!(
        store.stats().await.unwrap(),
        StoreStats {
            pending_reports: 0,
            acknowledged_reports: 1
        }
    );
    assert!(lease(&*store, "dk-east", 1000, 10).await.is_empty());
    assert_eq!(store.next_lease_expiry("dk-east").await.unwrap(), None);
}

async fn test_batched_ack_takes_only_the_units_reports_idempotently(backend: Backend) {
    // Given three leased reports of dk-east, one of dk-west, one of them acked alone before
    let (store, _dir) = open_store(backend).await;
    for n in 1..=3 {
        store.submit_report(new_report(n, "dk-east")).await.unwrap();
    }
    store.submit_report(new_report(4, "dk-west")).await.unwrap();
    lease(&*store, "dk-east", 10, 10).await;
    lease(&*store, "dk-west", 10, 10).await;
    assert!(store.ack_report("dk-east", report_id(2), at(11)).await.unwrap());

    // When dk-east acks its three, dk-west's, an unknown id and one of its own twice, in one batch
    let ids = [
        report_id(1),
        report_id(2),
        report_id(4),
        report_id(9),
        report_id(3),
        report_id(1),
        report_id(9),
    ];
    let unknown = store.ack_reports("dk-east", &ids, at(12)).await.unwrap();

    // Then the ids that are not dk-east's come back once each, in order, dk-west's report is
    // still pending, and dk-east's are never delivered again
    assert_eq!(unknown, [report_id(4), report_id(9)]);
    assert_eq!(
        store.stats().await.unwrap(),
        StoreStats {
            pending_reports: 1,
            acknowledged_reports: 3
        }
    );
    assert!(lease(&*store, "dk-east", 1000, 10).await.is_empty());
    let west: Vec<_> = lease(&*store, "dk-west", 1000, 10)
        .await
        .iter()
        .map(|d| d.report_id)
        .collect();
    assert_eq!(west, [report_id(4)]);
    // And the same batch again changes nothing and answers the same
    let again = store.ack_reports("dk-east", &ids, at(13)).await.unwrap();
    assert_eq!(again, [report_id(4), report_id(9)]);
    assert_eq!(store.stats().await.unwrap().acknowledged_reports, 3);
    assert!(store
        .ack_reports("dk-east", &[], at(14))
        .await
        .unwrap()
        .is_empty());
}

async fn test_transfer_moves_report_and_case_and_requeues(backend: Backend) {
    // Given a report of dk-east with an uploaded attachment, delivered and acknowledged
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[4]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"abcd")
        .await
        .unwrap();
    lease(&*store, "dk-east", 10, 10).await;
    store.ack_report("dk-east", report_id(1), at(11)).await.unwrap();

    // When dk-east transfers it to dk-west, re-sealed, with two attachments to upload again
    let attachments = vec![
        DeclaredAttachment {
            index: 0,
            sealed_size: 6,
        },
        DeclaredAttachment {
            index: 1,
            sealed_size: 0,
        },
    ];
    let outcome = store
        .transfer_report(
            "dk-east",
            report_id(1),
            "dk-west",
            b"resealed".to_vec(),
            attachments,
            None,
        )
        .await
        .unwrap();

    // Then it is moved: queued for dk-west with the new envelope and attachments, first delivery
    assert_eq!(outcome, TransferOutcome::Moved);
    let delivered = lease(&*store, "dk-west", 20, 10).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].envelope, b"resealed");
    assert_eq!(delivered[0].delivery_count, 1);
    assert_eq!(
        delivered[0].attachments,
        vec![
            AttachmentProgress {
                index: 0,
                sealed_size: 6,
                received: 0
            },
            AttachmentProgress {
                index: 1,
                sealed_size: 0,
                received: 0
            },
        ]
    );
    // And the old unit neither sees it nor reads its attachments; the case is dk-west's now
    assert!(lease(&*store, "dk-east", 1000, 10).await.is_empty());
    assert_eq!(
        store
            .read_attachment("dk-east", report_id(1), 0, 0, 4)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .read_attachment("dk-west", report_id(1), 0, 0, 4)
            .await
            .unwrap(),
        Some(Vec::new())
    );
    assert_eq!(store.case(case_id(1)).await.unwrap().unwrap().unit_id, "dk-west");
    assert_eq!(
        store.stats().await.unwrap(),
        StoreStats {
            pending_reports: 1,
            acknowledged_reports: 0
        }
    );
    // And the reporter's retry of the original submission is still a duplicate
    assert_eq!(
        store.submit_report(new_report(1, "dk-east")).await.unwrap(),
        SubmitOutcome::Duplicate {
            receipt: b"receipt-1".to_vec()
        }
    );
}

async fn test_transfer_by_a_unit_that_does_not_hold_the_report_is_not_found(backend: Backend) {
    // Given a report of dk-east
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When dk-west tries to transfer it, or anyone transfers an unknown report
    let by_other = store
        .transfer_report("dk-west", report_id(1), "es-md", b"x".to_vec(), vec![], None)
        .await
        .unwrap();
    let unknown = store
        .transfer_report("dk-east", report_id(7), "es-md", b"x".to_vec(), vec![], None)
        .await
        .unwrap();

    // Then nothing moves
    assert_eq!(by_other, TransferOutcome::NotFound);
    assert_eq!(unknown, TransferOutcome::NotFound);
    assert_eq!(store.case(case_id(1)).await.unwrap().unwrap().unit_id, "dk-east");
}

async fn test_purge_deletes_old_acknowledged_reports_with_their_data(backend: Backend) {
    // Given report 1 acked at t+10 with an attachment and a case message, report 2 acked at
    // t+100, report 3 pending, and report 4 acked at t+10 in the case of report 3
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[3]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"abc")
        .await
        .unwrap();
    store
        .add_message(
            case_id(1),
            crate::message_id(1),
            tipline_server::store::MessageDirection::ToReporter,
            vec![1],
            at(5),
        )
        .await
        .unwrap();
    store.submit_report(new_report(2, "dk-east")).await.unwrap();
    store.submit_report(new_report(3, "dk-east")).await.unwrap();
    let mut fourth = new_report(4, "dk-east");
    fourth.case_id = case_id(3);
    fourth.case_secret_hash = secret(3);
    store.submit_report(fourth).await.unwrap();
    store
        .add_message(
            case_id(3),
            crate::message_id(3),
            tipline_server::store::MessageDirection::ToUnit,
            vec![3],
            at(5),
        )
        .await
        .unwrap();
    store.ack_report("dk-east", report_id(1), at(10)).await.unwrap();
    store.ack_report("dk-east", report_id(4), at(10)).await.unwrap();
    store.ack_report("dk-east", report_id(2), at(100)).await.unwrap();

    // When reports acknowledged before t+50 are purged
    let purged = store.purge(at(50), at(50)).await.unwrap();

    // Then reports 1 and 4 go; case 1 goes with its messages; case 3 stays (report 3 is left)
    assert_eq!(purged, 2);
    assert_eq!(
        store.stats().await.unwrap(),
        StoreStats {
            pending_reports: 1,
            acknowledged_reports: 1
        }
    );
    assert_eq!(store.attachment_state(report_id(1), 0, None).await.unwrap(), None);
    assert_eq!(store.case(case_id(1)).await.unwrap(), None);
    assert!(store.messages(case_id(1), 0, 10).await.unwrap().is_empty());
    assert_eq!(store.messages(case_id(3), 0, 10).await.unwrap().len(), 1);
    // And a second purge finds nothing more
    assert_eq!(store.purge(at(50), at(50)).await.unwrap(), 0);
}

async fn test_purge_goes_through_more_reports_than_one_step(backend: Backend) {
    // Given 150 reports acknowledged (more than one purge step takes)
    let (store, _dir) = open_store(backend).await;
    for n in 1..=150u8 {
        store.submit_report(new_report(n, "dk-east")).await.unwrap();
        store.ack_report("dk-east", report_id(n), at(1)).await.unwrap();
    }

    // When they are purged
    let purged = store.purge(at(2), at(2)).await.unwrap();

    // Then all go
    assert_eq!(purged, 150);
    assert_eq!(store.stats().await.unwrap(), StoreStats::default());
}

async fn test_ping_answers_while_open(backend: Backend) {
    // Given an open store
    let (store, _dir) = open_store(backend).await;

    // When it is pinged, then it answers
    store.ping().await.unwrap();
}

crate::contract_tests!(
    test_submit_new_report_is_created_with_its_case,
    test_submit_same_envelope_again_is_duplicate_with_first_receipt,
    test_submit_other_envelope_under_same_id_is_conflict,
    test_submit_case_with_other_secret_is_case_conflict_and_stores_nothing,
    test_submit_second_report_in_same_case_is_created,
    test_failed_write_does_not_spoil_the_others_in_its_batch,
    test_lease_is_not_given_again_before_expiry,
    test_lease_expired_is_delivered_again_with_count_two,
    test_lease_respects_limit,
    test_lease_stops_at_the_page_budget_and_leaves_the_rest_queued,
    test_next_lease_expiry_is_earliest_unacknowledged_lease,
    test_ack_is_idempotent_and_other_unit_cannot_ack,
    test_batched_ack_takes_only_the_units_reports_idempotently,
    test_transfer_moves_report_and_case_and_requeues,
    test_transfer_by_a_unit_that_does_not_hold_the_report_is_not_found,
    test_purge_deletes_old_acknowledged_reports_with_their_data,
    test_purge_goes_through_more_reports_than_one_step,
    test_ping_answers_while_open,
);
