//! Attachment uploads: append, resume, refusals, state, and reads by the unit.

use tipline_server::store::{AppendOutcome, AttachmentProgress};

use crate::{lease, new_report, open_store, report_id, secret, with_attachments, Backend};

async fn test_attachment_append_and_resume(backend: Backend) {
    // Given a report with a 10-byte attachment
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[10]))
        .await
        .unwrap();

    // When 4 bytes are appended, the upload is interrupted, and the client asks where it stands
    let first = store
        .append_attachment(report_id(1), 0, secret(1), 0, b"0123")
        .await
        .unwrap();
    let state = store
        .attachment_state(report_id(1), 0, Some(secret(1)))
        .await
        .unwrap();

    // Then it stands at 4 and resumes from there to the end
    assert_eq!(first, AppendOutcome::Appended { offset: 4 });
    assert_eq!(
        state,
        Some(AttachmentProgress {
            index: 0,
            sealed_size: 10,
            received: 4
        })
    );
    let second = store
        .append_attachment(report_id(1), 0, secret(1), 4, b"456789")
        .await
        .unwrap();
    assert_eq!(second, AppendOutcome::Appended { offset: 10 });
    assert_eq!(
        store
            .read_attachment("dk-east", report_id(1), 0, 0, 10)
            .await
            .unwrap()
            .unwrap(),
        b"0123456789"
    );
}

async fn test_attachment_append_at_wrong_offset_is_mismatch(backend: Backend) {
    // Given an attachment with 4 bytes received
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[10]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"0123")
        .await
        .unwrap();

    // When the first chunk is sent again (a retry) and a chunk comes from too far ahead
    let replay = store
        .append_attachment(report_id(1), 0, secret(1), 0, b"0123")
        .await
        .unwrap();
    let ahead = store
        .append_attachment(report_id(1), 0, secret(1), 6, b"67")
        .await
        .unwrap();

    // Then both say where the upload stands, and nothing is added
    assert_eq!(replay, AppendOutcome::OffsetMismatch { offset: 4 });
    assert_eq!(ahead, AppendOutcome::OffsetMismatch { offset: 4 });
    assert_eq!(
        store
            .attachment_state(report_id(1), 0, None)
            .await
            .unwrap()
            .unwrap()
            .received,
        4
    );
}

async fn test_attachment_append_past_declared_size_is_too_long(backend: Backend) {
    // Given a 5-byte attachment with 4 bytes received
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[5]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"0123")
        .await
        .unwrap();

    // When 2 more bytes come
    let outcome = store
        .append_attachment(report_id(1), 0, secret(1), 4, b"45")
        .await
        .unwrap();

    // Then they are refused, and the last byte still fits
    assert_eq!(outcome, AppendOutcome::TooLong);
    let last = store
        .append_attachment(report_id(1), 0, secret(1), 4, b"4")
        .await
        .unwrap();
    assert_eq!(last, AppendOutcome::Appended { offset: 5 });
    let more = store
        .append_attachment(report_id(1), 0, secret(1), 5, b"5")
        .await
        .unwrap();
    assert_eq!(more, AppendOutcome::TooLong);
}

async fn test_attachment_with_wrong_secret_or_unknown_is_not_found(backend: Backend) {
    // Given a report with one attachment
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[10]))
        .await
        .unwrap();

    // When someone appends with another case secret, to an undeclared index, or another report
    let wrong_secret = store
        .append_attachment(report_id(1), 0, secret(2), 0, b"x")
        .await
        .unwrap();
    let wrong_index = store
        .append_attachment(report_id(1), 1, secret(1), 0, b"x")
        .await
        .unwrap();
    let wrong_report = store
        .append_attachment(report_id(2), 0, secret(1), 0, b"x")
        .await
        .unwrap();

    // Then all are not found, and the state is hidden from the wrong secret but shown to the desk
    assert_eq!(wrong_secret, AppendOutcome::NotFound);
    assert_eq!(wrong_index, AppendOutcome::NotFound);
    assert_eq!(wrong_report, AppendOutcome::NotFound);
    assert_eq!(
        store
            .attachment_state(report_id(1), 0, Some(secret(2)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.attachment_state(report_id(1), 0, None).await.unwrap(),
        Some(AttachmentProgress {
            index: 0,
            sealed_size: 10,
            received: 0
        })
    );
    assert_eq!(store.attachment_state(report_id(1), 1, None).await.unwrap(), None);
}

async fn test_read_attachment_ranges_across_chunks(backend: Backend) {
    // Given an attachment uploaded in three chunks, 7 of 12 bytes so far
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[12]))
        .await
        .unwrap();
    for (offset, chunk) in [(0, &b"ab"[..]), (2, b"cde"), (5, b"fg")] {
        store
            .append_attachment(report_id(1), 0, secret(1), offset, chunk)
            .await
            .unwrap();
    }

    // When the unit reads ranges
    let read = |offset, len| store.read_attachment("dk-east", report_id(1), 0, offset, len);

    // Then each range is cut from the right chunks, and at what has been received
    assert_eq!(read(0, 7).await.unwrap().unwrap(), b"abcdefg");
    assert_eq!(read(1, 3).await.unwrap().unwrap(), b"bcd");
    assert_eq!(read(3, 1).await.unwrap().unwrap(), b"d");
    assert_eq!(read(4, 100).await.unwrap().unwrap(), b"efg");
    assert_eq!(read(6, u64::MAX).await.unwrap().unwrap(), b"g");
    assert_eq!(read(7, 5).await.unwrap().unwrap(), b"");
    assert_eq!(read(50, 5).await.unwrap().unwrap(), b"");
}

async fn test_read_attachment_only_by_the_reports_unit(backend: Backend) {
    // Given an uploaded attachment of a dk-east report
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[3]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"abc")
        .await
        .unwrap();

    // When another unit reads it, or dk-east reads an undeclared index
    let by_other = store
        .read_attachment("dk-west", report_id(1), 0, 0, 3)
        .await
        .unwrap();
    let undeclared = store
        .read_attachment("dk-east", report_id(1), 1, 0, 3)
        .await
        .unwrap();

    // Then there is nothing for them
    assert_eq!(by_other, None);
    assert_eq!(undeclared, None);
    assert_eq!(
        store
            .read_attachment("dk-east", report_id(1), 0, 0, 3)
            .await
            .unwrap()
            .unwrap(),
        b"abc"
    );
}

async fn test_delivery_shows_attachment_progress(backend: Backend) {
    // Given a report with two attachments, one partly uploaded and one empty
    let (store, _dir) = open_store(backend).await;
    store
        .submit_report(with_attachments(new_report(1, "dk-east"), &[8, 0]))
        .await
        .unwrap();
    store
        .append_attachment(report_id(1), 0, secret(1), 0, b"abc")
        .await
        .unwrap();

    // When the desk leases it
    let delivered = lease(&*store, "dk-east", 10, 1).await;

    // Then the delivery shows what has arrived of each
    assert_eq!(
        delivered[0].attachments,
        vec![
            AttachmentProgress {
                index: 0,
                sealed_size: 8,
                received: 3
            },
            AttachmentProgress {
                index: 1,
                sealed_size: 0,
                received: 0
            },
        ]
    );
}

crate::contract_tests!(
    test_attachment_append_and_resume,
    test_attachment_append_at_wrong_offset_is_mismatch,
    test_attachment_append_past_declared_size_is_too_long,
    test_attachment_with_wrong_secret_or_unknown_is_not_found,
    test_read_attachment_ranges_across_chunks,
    test_read_attachment_only_by_the_reports_unit,
    test_delivery_shows_attachment_progress,
);
