//! The core's client runtime against the real intake server over a loopback socket: delivery
//! exactly once through offline periods, crashes, server errors and timeouts; directory and
//! alert checks; the reply round trip; recovering a case on a second device.
#![allow(clippy::unwrap_used)]

mod faults;
mod oblivious;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use support::{attach_jpeg, draft, Server};
use tipline_core::client::outbox::Filed;
use tipline_core::client::{Client, OutboxItem, OutboxListener, OutboxStatus};
use tipline_core::keys::SigningKey;
use tipline_core::l10n::Language;
use tipline_core::message::CaseStatus;
use tipline_core::Error;
use tipline_server::difficulty::StampPolicy;
use tipline_server::store::Delivery;

#[tokio::test]
async fn test_report_made_offline_is_delivered_exactly_once_when_server_comes_up() {
    // Given a client whose directory is cached and whose server is down
    let server = Server::start().await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let server = server.stop().await;
    // When the reporter files a report with a photo while offline
    let filed = client.file_report(&attach_jpeg(draft())).unwrap();
    assert!(!filed.codename.is_empty(), "the codename is shown even offline");
    let summary = client.flush().await.unwrap();
    assert_eq!((summary.delivered, summary.pending), (0, 1));
    let item = &client.outbox().unwrap()[0];
    let OutboxStatus::Queued {
        last_error,
        next_attempt,
    } = &item.status
    else {
        panic!("{item:?}")
    };
    assert_eq!(last_error.as_deref(), Some("reason-offline"));
    assert!(*next_attempt > Utc::now(), "a back-off is scheduled");
    // Then, once the server is up again and the retry is due, it is delivered once, with its photo
    let server = server.restart().await;
    client.retry(filed.report_id).unwrap();
    assert_eq!(client.flush().await.unwrap().delivered, 1);
    assert_eq!(
        client.flush().await.unwrap().delivered,
        0,
        "a second flush sends nothing"
    );
    let delivered = server.desk_reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].report_id, filed.report_id);
    server.open_attachments(&delivered[0]).await;
    assert!(matches!(
        client.outbox().unwrap()[0].status,
        OutboxStatus::Delivered { .. }
    ));
}

/// A listener that panics, like a process being killed, once some attachment bytes are sent.
struct CrashAfterFirstPiece;

impl OutboxListener for CrashAfterFirstPiece {
    fn on_change(&self, item: OutboxItem) {
        if let OutboxStatus::Sending { progress } = item.status {
            if progress > 0.05 && progress < 0.9 {
                panic!("simulated kill in the middle of an upload");
            }
        }
    }
}

#[tokio::test]
async fn test_client_killed_mid_upload_resumes_with_one_report_and_intact_attachments() {
    // Given a report with a large photo
    let server = Server::start().await;
    let dir = server.client_dir("phone-a");
    let client = Arc::new(server.client_in(&dir));
    client.refresh_directory().await.unwrap();
    let mut bytes = std::fs::read(&attach_jpeg(draft()).attachments[0].path).unwrap();
    bytes.extend(std::iter::repeat_n(0x42, 1_200_000));
    let mut d = draft();
    d.attachments.push(tipline_e2e::files::attachment(
        "chat.bin",
        "application/octet-stream",
        &bytes,
    ));
    let filed = client.file_report(&d).unwrap();
    // When the app dies in the middle of the attachment upload
    client.set_listener(Arc::new(CrashAfterFirstPiece));
    let crashed = tokio::spawn({
        let client = client.clone();
        async move { client.flush().await }
    })
    .await;
    assert!(crashed.is_err(), "the flush was killed");
    drop(client);
    let partly = server.attachment_offset(&filed).await;
    assert!(partly > 0, "some bytes had arrived before the kill");
    // Then the reopened app resumes where the server stopped, and the desk gets one whole report
    let client = server.client_in(&dir);
    let row = client.outbox().unwrap();
    assert_eq!(row.len(), 1);
    assert_eq!(client.flush().await.unwrap().delivered, 1);
    let delivered = server.desk_reports().await;
    assert_eq!(delivered.len(), 1);
    let files = server.open_attachments(&delivered[0]).await;
    assert_eq!(files[0].len(), bytes.len());
    assert_eq!(files[0], bytes);
}

#[tokio::test]
async fn test_retries_through_server_errors_and_timeouts_yield_one_report() {
    // Given a server that fails the first submission with a 500, answers the second only
    // after the client has given up waiting, and the third and fourth with more bytes than a
    // receipt may take (with and without a declared length), committing all but the first
    let failures = Arc::new(AtomicUsize::new(0));
    let server = Server::start_flaky(failures.clone()).await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&draft()).unwrap();
    // When the client keeps retrying
    for _ in 0..8 {
        client.retry(filed.report_id).unwrap();
        if client.flush().await.unwrap().delivered == 1 {
            break;
        }
    }
    // Then every failure happened and the fifth submission was the one taken: exactly one
    // report, with a checked receipt
    assert_eq!(failures.load(Ordering::SeqCst), 5);
    assert!(matches!(
        client.outbox().unwrap()[0].status,
        OutboxStatus::Delivered { .. }
    ));
    assert_eq!(server.desk_reports().await.len(), 1);
}

#[tokio::test]
async fn test_busy_server_is_retried_after_its_retry_after() {
    let server = Server::start_with(|s| {
        s.rates.reports = tipline_server::limits::Rate::new(1, 1);
    })
    .await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    client.file_report(&draft()).unwrap();
    client.file_report(&draft()).unwrap();
    let summary = client.flush().await.unwrap();
    assert_eq!((summary.delivered, summary.pending), (1, 1));
    let waiting = client
        .outbox()
        .unwrap()
        .into_iter()
        .find(|i| matches!(i.status, OutboxStatus::Queued { .. }))
        .unwrap();
    let OutboxStatus::Queued {
        next_attempt,
        last_error,
    } = waiting.status
    else {
        unreachable!()
    };
    assert_eq!(last_error.as_deref(), Some("reason-busy"));
    assert!(
        next_attempt > Utc::now() + chrono::Duration::seconds(5),
        "Retry-After is honoured"
    );
}

#[tokio::test]
async fn test_tampered_or_foreign_directory_is_refused_and_the_cached_one_stays() {
    let server = Server::start().await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    // A newer directory signed by another key, served by a compromised server
    server
        .serve_directory(server.directory_signed_by_stranger(2))
        .await;
    let err = client.refresh_directory().await.err().unwrap();
    assert!(
        matches!(
            err,
            Error::Refused {
                what: "directory",
                ..
            }
        ),
        "{err}"
    );
    // The same directory with one altered byte
    server.serve_directory(server.altered_directory(3)).await;
    assert!(client.refresh_directory().await.is_err());
    assert_eq!(client.directory().unwrap().version(), 1);
    // A client pinned to another authority accepts nothing at all
    let stranger = server.client_with_authority(
        "phone-b",
        tipline_core::keys::SigningKey::generate()
            .unwrap()
            .verifying_key(),
    );
    assert!(stranger.refresh_directory().await.is_err());
    assert!(stranger.directory().is_none());
}

#[tokio::test]
async fn test_forged_alert_is_refused_and_genuine_ones_are_localised() {
    let server = Server::start().await;
    server.publish_alert("dk-infohus-vestegnen", false).await;
    server.publish_alert("dk-infohus-vestegnen", true).await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let alerts = client.alerts("DK-84", Language::Danish).await.unwrap();
    assert_eq!(alerts.len(), 1, "the forged alert is left out");
    assert_eq!(alerts[0].title, "Falske opslag");
    assert_eq!(alerts[0].severity_label, "Advarsel");
    let hotlines = client.hotlines("DK-84", Language::English, Utc::now()).unwrap();
    assert!(hotlines.iter().any(|h| h.dial_uri == "tel:+4541749090"));
}

#[tokio::test]
async fn test_reply_round_trip_and_follow_up() {
    // Given a delivered report
    let server = Server::start().await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&draft()).unwrap();
    client.flush().await.unwrap();
    // When the unit replies
    let report = &server.desk_reports().await[0];
    server.reply(report, "Tak. Hvornår skete det?").await;
    // Then the reporter reads it, signed by the unit
    let conversation = client.conversation(filed.case_id).await.unwrap();
    assert_eq!(conversation.len(), 1);
    assert!(conversation[0].from_unit);
    assert_eq!(conversation[0].text.as_deref(), Some("Tak. Hvornår skete det?"));
    // And answers; the unit opens the follow-up
    client
        .send_follow_up(filed.case_id, "I går omkring kl. 22.")
        .await
        .unwrap();
    assert_eq!(
        server.follow_ups(report).await,
        vec!["I går omkring kl. 22.".to_string()]
    );
    let conversation = client.conversation(filed.case_id).await.unwrap();
    assert_eq!(conversation.len(), 2);
    assert_eq!(conversation[1].text.as_deref(), Some("I går omkring kl. 22."));
}

#[tokio::test]
async fn test_status_notices_reach_the_reporter_with_their_status() {
    // Given a delivered report
    let server = Server::start().await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&draft()).unwrap();
    client.flush().await.unwrap();
    let report = &server.desk_reports().await[0];
    // When the unit says it received the report, then replies, then closes the case
    server
        .notice(report, CaseStatus::Received, "Vi har modtaget din henvendelse.")
        .await;
    server.reply(report, "Tak. Hvornår skete det?").await;
    server
        .notice(report, CaseStatus::Closed, "Sagen er afsluttet.")
        .await;
    // Then the reporter's conversation shows all three, signed by the unit, each notice with its
    // status and the reply with none
    let conversation = client.conversation(filed.case_id).await.unwrap();
    let seen: Vec<(Option<CaseStatus>, Option<&str>, bool)> = conversation
        .iter()
        .map(|m| (m.status, m.text.as_deref(), m.from_unit))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                Some(CaseStatus::Received),
                Some("Vi har modtaget din henvendelse."),
                true
            ),
            (None, Some("Tak. Hvornår skete det?"), true),
            (Some(CaseStatus::Closed), Some("Sagen er afsluttet."), true),
        ]
    );
}

#[tokio::test]
async fn test_background_check_finds_the_cases_with_news_asking_each_at_its_own_moment() {
    // Given a device with three cases, two of which the unit answered (a reply, a notice)
    let server = Server::start().await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let filed: Vec<_> = (0..3).map(|_| client.file_report(&draft()).unwrap()).collect();
    client.flush().await.unwrap();
    let reports = server.desk_reports().await;
    assert_eq!(reports.len(), 3);
    let report_of = |case_id| reports.iter().find(|r| r.case_id == case_id).unwrap();
    server
        .reply(report_of(filed[0].case_id), "Tak. Hvornår skete det?")
        .await;
    server
        .notice(
            report_of(filed[1].case_id),
            CaseStatus::InProgress,
            "Vi ser på det.",
        )
        .await;
    server.clear_case_polls();

    // When the background check runs, spread over 1.5 s
    let spread = Duration::from_millis(1500);
    let check = client.check_cases(spread).await.unwrap();

    // Then it reports the two cases with news, and asked each case once
    assert_eq!(
        (check.checked, check.with_news, check.skipped, check.failed),
        (3, 2, 0, 0)
    );
    let polls = server.case_polls();
    let mut asked: Vec<&str> = polls.iter().map(|(_, path)| path.as_str()).collect();
    asked.sort_unstable();
    asked.dedup();
    assert_eq!((polls.len(), asked.len()), (3, 3), "{polls:?}");
    // And no two asks went out together: each at least half a slot (250 ms) after the last
    for pair in polls.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= Duration::from_millis(200), "{gap:?} between {pair:?}");
    }
    // And nothing came for the third case; the news is in the conversations
    assert!(client.conversation(filed[2].case_id).await.unwrap().is_empty());
    assert_eq!(
        client.conversation(filed[1].case_id).await.unwrap()[0].status,
        Some(CaseStatus::InProgress)
    );

    // When the unit closes the second case and the check runs again
    server
        .notice(
            report_of(filed[1].case_id),
            CaseStatus::Closed,
            "Sagen er afsluttet.",
        )
        .await;
    let check = client.check_cases(Duration::from_millis(300)).await.unwrap();
    assert_eq!((check.checked, check.with_news), (3, 1));
    // Then the closed case is not asked any more
    let check = client.check_cases(Duration::from_millis(300)).await.unwrap();
    assert_eq!((check.checked, check.with_news, check.skipped), (2, 0, 1));
}

/// A delivered report with a reply, on a server whose first follow-up answer comes too late.
async fn case_with_slow_follow_ups() -> (Server, Client, Filed, Delivery, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let server = Server::start_slow_follow_ups(posts.clone()).await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&draft()).unwrap();
    client.flush().await.unwrap();
    let report = server.desk_reports().await.remove(0);
    server.reply(&report, "Tak. Hvornår skete det?").await;
    client.conversation(filed.case_id).await.unwrap();
    (server, client, filed, report, posts)
}

#[tokio::test]
async fn test_follow_up_sent_again_after_a_lost_answer_reaches_the_unit_once() {
    // Given a follow-up the server stored but whose answer never reached the phone
    let (server, client, filed, report, posts) = case_with_slow_follow_ups().await;
    let first = client
        .send_follow_up(filed.case_id, "I går omkring kl. 22.")
        .await;
    assert!(matches!(first, Err(Error::Network(_))), "{first:?}");
    // When the reporter sends the same words again
    let sent = client
        .send_follow_up(filed.case_id, "I går omkring kl. 22.")
        .await
        .unwrap();
    // Then both tries reached the server, and the unit reads the follow-up once
    assert_eq!(posts.load(Ordering::SeqCst), 2);
    assert_eq!(
        server.follow_ups(&report).await,
        vec!["I går omkring kl. 22.".to_string()]
    );
    // And the reporter sees it once, with its text
    let conversation = client.conversation(filed.case_id).await.unwrap();
    let mine: Vec<_> = conversation.iter().filter(|m| !m.from_unit).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].message_id, sent.message_id);
    assert_eq!(mine[0].text.as_deref(), Some("I går omkring kl. 22."));
    // And other words are another message
    client.send_follow_up(filed.case_id, "Og i dag.").await.unwrap();
    assert_eq!(server.follow_ups(&report).await.len(), 2);
}

#[tokio::test]
async fn test_follow_up_whose_answer_was_lost_shows_with_its_text_after_a_sync() {
    // Given a follow-up the server stored but whose answer never reached the phone
    let (server, client, filed, report, _posts) = case_with_slow_follow_ups().await;
    assert!(client
        .send_follow_up(filed.case_id, "Han bor på tredje sal.")
        .await
        .is_err());
    // When the conversation is synced, without sending again
    let conversation = client.conversation(filed.case_id).await.unwrap();
    // Then the follow-up shows as sent, with its text (not as one from another device)
    let mine: Vec<_> = conversation.iter().filter(|m| !m.from_unit).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].text.as_deref(), Some("Han bor på tredje sal."));
    assert_eq!(server.follow_ups(&report).await.len(), 1);
    // And the same words sent later are a new message: the first is settled
    client
        .send_follow_up(filed.case_id, "Han bor på tredje sal.")
        .await
        .unwrap();
    assert_eq!(server.follow_ups(&report).await.len(), 2);
}

#[tokio::test]
async fn test_case_recovered_from_codename_on_a_second_client() {
    let server = Server::start().await;
    let phone = server.client("phone-a");
    phone.refresh_directory().await.unwrap();
    let filed = phone.file_report(&draft()).unwrap();
    phone.flush().await.unwrap();
    let report = &server.desk_reports().await[0];
    server.reply(report, "Vi har modtaget din henvendelse.").await;
    // A new phone, with only the codename the reporter wrote down
    let new_phone = server.client("phone-b");
    new_phone.refresh_directory().await.unwrap();
    let case_id = new_phone
        .recover_case(&filed.codename.to_uppercase())
        .await
        .unwrap();
    assert_eq!(case_id, filed.case_id);
    let conversation = new_phone.conversation(case_id).await.unwrap();
    assert_eq!(
        conversation[0].text.as_deref(),
        Some("Vi har modtaget din henvendelse.")
    );
    new_phone
        .send_follow_up(case_id, "Sent from my new phone")
        .await
        .unwrap();
    // A wrong codename finds nothing
    let wrong = tipline_core::codename::Codename::generate().unwrap().to_phrase();
    assert!(matches!(
        new_phone.recover_case(&wrong).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(phone.outbox().unwrap()[0].report_id, filed.report_id);
}

#[tokio::test]
async fn test_client_solves_again_when_a_flood_raised_the_difficulty() {
    // Given a server at difficulty 4 that raises it while flooded (more than two submissions in
    // half a second), with no grace for older stamps, and taking one report a second (so that
    // the second of two reports flushed together waits, even on a slow machine),
    let server = Server::start_with(|s| {
        s.stamp_difficulty = 4;
        s.stamp_policy = StampPolicy {
            ceiling: 14,
            window: Duration::from_millis(500),
            threshold: 2,
            grace: Duration::ZERO,
        };
        s.rates.reports = tipline_server::limits::Rate::new(60, 1);
    })
    .await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    // and a report whose stamp was solved at 4 but that was told to wait
    let filed = [
        client.file_report(&draft()).unwrap().report_id,
        client.file_report(&draft()).unwrap().report_id,
    ];
    let summary = client.flush().await.unwrap();
    assert_eq!((summary.delivered, summary.pending), (1, 1));

    // When a flood raises the difficulty far above 4, and the report's retry is due
    server.flood_until(12).await;
    let due = client
        .outbox()
        .unwrap()
        .into_iter()
        .find_map(|i| match i.status {
            OutboxStatus::Queued { next_attempt, .. } => Some(next_attempt),
            _ => None,
        })
        .unwrap();
    if let Ok(wait) = (due - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    // (and the bucket has its token again after the flood's last submission)
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Then the client reads the difficulty announced now, solves again, and the report arrives
    let summary = client.flush().await.unwrap();
    assert_eq!(
        (summary.delivered, summary.failed),
        (1, 0),
        "{:?}",
        client.outbox().unwrap()
    );
    let at_desk: Vec<_> = server.desk_reports().await.iter().map(|d| d.report_id).collect();
    assert!(filed.iter().all(|id| at_desk.contains(id)));
}

#[tokio::test]
async fn test_receipts_are_checked_against_the_receipt_keys_the_directory_lists() {
    // Given a directory (format 2) that lists a retired receipt key before the server's current
    // one, as during a rotation
    let server = Server::start().await;
    let retired = SigningKey::generate().unwrap().verifying_key();
    let current = server.state.server_key().verifying_key();
    server.publish_receipt_keys(vec![retired, current]).await;
    let client = server.client("phone-a");
    client.refresh_directory().await.unwrap();
    // When a report is filed, its receipt verifies against the listed key that signed it
    let first = client.file_report(&draft()).unwrap();
    assert_eq!(client.flush().await.unwrap().delivered, 1);
    // Then, once the authority lists only another key (the server's was not the deployment's)
    server.publish_receipt_keys(vec![retired]).await;
    client.refresh_directory().await.unwrap();
    let second = client.file_report(&draft()).unwrap();
    let summary = client.flush().await.unwrap();
    // the server's receipt is not taken as proof of filing: the report is not shown delivered
    assert_eq!(summary.delivered, 0);
    let outbox = client.outbox().unwrap();
    let status = |id| &outbox.iter().find(|item| item.report_id == id).unwrap().status;
    assert!(matches!(status(first.report_id), OutboxStatus::Delivered { .. }));
    assert!(
        !matches!(status(second.report_id), OutboxStatus::Delivered { .. }),
        "{:?}",
        status(second.report_id)
    );
}
