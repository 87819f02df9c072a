//! What is never acknowledged or never completed is deleted after a while; the store says how
//! much room it takes.

use tipline_core::report::MessageId;
use tipline_server::store::{Expired, MessageDirection};

use crate::{at, case_id, new_report, open_store, report_id, secret, with_attachments, Backend};

async fn test_expiry_deletes_unacknowledged_reports_and_incomplete_uploads_received_before(backend: Backend) {
    // Given, received at t0 + 1..4 s:
    let (store, _dir) = open_store(backend).await;
    // 1: acknowledged, with a complete upload and an incomplete one;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[4, 4]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"abcd")
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 1, secret(1), 0, b"ab")
        .await
        .unwrap();
    assert!(store.ack_report("dk-east", report_id(1), at(10)).await.unwrap());
    // 2: never acknowledged, with an incomplete upload and a follow-up in its case;
    store
        .submit_report(with_attachments(new_report(2, "dk-east"), &[8]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(2), 0, secret(2), 0, b"abc")
        .await
        .unwrap();
    store
        .add_message(
            case_id(2),
            MessageId([9; 16]),
            MessageDirection::ToUnit,
            b"more".to_vec(),
            at(5),
        )
        .await
        .unwrap();
    // 4: never acknowledged, received after the cutoff.
    store.submit_report(new_report(4, "dk-east")).await.unwrap();

    // When what was received before t0 + 3 s expires
    let expired = store.expire(at(3)).await.unwrap();

    // Then report 2 is gone with its case, its messages and its upload,
    assert_eq!(
        expired,
        Expired {
            reports: 1,
            uploads: 1
        }
    );
    assert_eq!(store.case(case_id(2)).await.unwrap(), None);
    assert!(store.messages(case_id(2), 0, 10).await.unwrap().is_empty());
    assert_eq!(store.attachment_state(report_id(2), 0, None).await.unwrap(), None);
    // report 1 keeps its complete upload and loses the incomplete one,
    assert!(store
        .attachment_state(report_id(1), 0, None)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.attachment_state(report_id(1), 1, None).await.unwrap(), None);
    assert_eq!(
        store
            .read_attachment("dk-east", report_id(1), 0, 0, 4)
            .await
            .unwrap(),
        Some(b"abcd".to_vec())
    );
    // and report 4 is still waiting for its desk
    let pending = store
        .lease_reports("dk-east", at(20), chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|d| d.report_id).collect::<Vec<_>>(),
        vec![report_id(4)]
    );
    // And a second expiry finds nothing more
    assert_eq!(store.expire(at(3)).await.unwrap(), Expired::default());
}

async fn test_usage_grows_with_what_is_stored_and_shrinks_after_deletion(backend: Backend) {
    // Given an empty store
    let (store, _dir) = open_store(backend).await;
    let empty = store.usage().await.unwrap();
    assert!(empty > 0);

    // When a report with a 1 MiB attachment is stored (sealed bytes: they do not compress)
    let size = 1024 * 1024;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let sealed: Vec<u8> = (0..size)
        .map(|_| {
            // xorshift64: cheap bytes a compressing store cannot shrink.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[size]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, &sealed)
        .await
        .unwrap();

    // Then the store takes at least that much more
    let full = store.usage().await.unwrap();
    assert!(full >= empty + size, "{empty} -> {full}");

    // And once it expired unacknowledged, the room is free again
    assert_eq!(store.expire(at(100)).await.unwrap().reports, 1);
    assert!(store.usage().await.unwrap() < empty + size / 2);
}

crate::contract_tests!(
    test_expiry_deletes_unacknowledged_reports_and_incomplete_uploads_received_before,
    test_usage_grows_with_what_is_stored_and_shrinks_after_deletion,
);
