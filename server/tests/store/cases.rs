//! Case messages: order, cursor, idempotency.

use tipline_core::envelope::MAX_ENVELOPE;
use tipline_server::store::{MessageDirection, SealedMessage, Store, StoreError, StoreResult};

use crate::{at, case_id, message_id, new_report, open_store, Backend};

/// Posts `envelope` as message `message` of case `case` at `at(seconds)`.
async fn post(
    store: &dyn Store,
    case: u8,
    message: u8,
    direction: MessageDirection,
    envelope: Vec<u8>,
    seconds: i64,
) -> StoreResult<SealedMessage> {
    store
        .add_message(
            case_id(case),
            message_id(message),
            direction,
            envelope,
            at(seconds),
        )
        .await
}

async fn test_messages_are_read_in_order_after_a_cursor(backend: Backend) {
    // Given a case with three messages, in both directions
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    let a = post(&*store, 1, 1, MessageDirection::ToReporter, b"a".to_vec(), 10)
        .await
        .unwrap();
    let b = post(&*store, 1, 2, MessageDirection::ToUnit, b"b".to_vec(), 11)
        .await
        .unwrap();
    let c = post(&*store, 1, 3, MessageDirection::ToReporter, b"c".to_vec(), 12)
        .await
        .unwrap();

    // When they are read from the start, two at a time, and after the last one
    let page = store.messages(case_id(1), 0, 2).await.unwrap();
    let rest = store.messages(case_id(1), page[1].seq, 2).await.unwrap();
    let none = store.messages(case_id(1), c.seq, 2).await.unwrap();

    // Then they come in order, with increasing seq, as stored
    assert!(a.seq < b.seq && b.seq < c.seq);
    assert_eq!(page, vec![a.clone(), b.clone()]);
    assert_eq!(rest, vec![c.clone()]);
    assert!(none.is_empty());
    assert_eq!(b.direction, MessageDirection::ToUnit);
    assert_eq!(b.envelope, b"b");
    assert_eq!(b.created_at, at(11));
    assert_eq!(b.message_id, message_id(2));
}

async fn test_a_page_of_messages_stops_at_the_page_budget_and_the_cursor_goes_on(backend: Backend) {
    // Given a case with five messages as large as envelopes get, and a small one
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    for n in 1..=6u8 {
        let size = if n == 6 { 10 } else { MAX_ENVELOPE };
        post(&*store, 1, n, MessageDirection::ToReporter, vec![n; size], 10)
            .await
            .unwrap();
    }

    // When they are read page after page, asking for up to 200 each time
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = store.messages(case_id(1), after, 200).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        pages.push(page.iter().map(|m| m.envelope[0]).collect::<Vec<_>>());
    }

    // Then each page stays within the budget (three large ones), and every message comes once,
    // in order
    assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5, 6]]);
}

async fn test_add_message_is_idempotent_on_its_id(backend: Backend) {
    // Given a stored message
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    let first = post(&*store, 1, 1, MessageDirection::ToUnit, b"a".to_vec(), 10)
        .await
        .unwrap();

    // When the same message id is posted again (a retry)
    let again = post(&*store, 1, 1, MessageDirection::ToUnit, b"a".to_vec(), 20)
        .await
        .unwrap();

    // Then the stored message comes back and the case still holds one
    assert_eq!(again, first);
    assert_eq!(store.messages(case_id(1), 0, 10).await.unwrap().len(), 1);
}

async fn test_a_message_id_taken_in_another_case_is_a_conflict_that_shows_nothing(backend: Backend) {
    // Given a message in case 1
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    store.submit_report(new_report(2, "dk-east")).await.unwrap();
    post(&*store, 1, 1, MessageDirection::ToUnit, b"a".to_vec(), 10)
        .await
        .unwrap();

    // When case 2 posts a message under the same id
    let taken = post(&*store, 2, 1, MessageDirection::ToUnit, b"b".to_vec(), 20).await;

    // Then it is a conflict (409 for the handler), not case 1's message, and case 2 stays empty
    assert!(matches!(taken, Err(StoreError::MessageIdTaken)), "{taken:?}");
    assert!(store.messages(case_id(2), 0, 10).await.unwrap().is_empty());
}

async fn test_messages_of_cases_are_kept_apart(backend: Backend) {
    // Given two cases with a message each
    let (store, _dir) = open_store(backend).await;
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    store.submit_report(new_report(2, "dk-east")).await.unwrap();
    post(&*store, 1, 1, MessageDirection::ToUnit, b"a".to_vec(), 10)
        .await
        .unwrap();
    post(&*store, 2, 2, MessageDirection::ToUnit, b"b".to_vec(), 11)
        .await
        .unwrap();

    // When case 2 posts a message under case 1's message id, and an unknown case posts
    let reused = post(&*store, 2, 1, MessageDirection::ToUnit, b"x".to_vec(), 12).await;
    let unknown = post(&*store, 9, 9, MessageDirection::ToUnit, b"y".to_vec(), 12).await;

    // Then each case reads only its own, and neither post is stored
    assert!(reused.is_err());
    assert!(unknown.is_err());
    assert_eq!(store.messages(case_id(1), 0, 10).await.unwrap()[0].envelope, b"a");
    assert_eq!(store.messages(case_id(2), 0, 10).await.unwrap().len(), 1);
    assert!(store.messages(case_id(9), 0, 10).await.unwrap().is_empty());
}

crate::contract_tests!(
    test_messages_are_read_in_order_after_a_cursor,
    test_a_page_of_messages_stops_at_the_page_budget_and_the_cursor_goes_on,
    test_add_message_is_idempotent_on_its_id,
    test_a_message_id_taken_in_another_case_is_a_conflict_that_shows_nothing,
    test_messages_of_cases_are_kept_apart,
);
