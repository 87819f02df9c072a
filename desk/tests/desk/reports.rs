//! The inbox and the report page: every field shown and escaped, attachments served by their
//! content, filters and search, the team's actions, and live notices.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tipline_core::desk::{DeskEvent, Received};
use tipline_core::report::{Contact, Person, Place, ReportId};
use tipline_desk::accounts::Role;
use tipline_desk::ChangeKind;
use tower::ServiceExt;

use crate::security::has_event_handler;
use crate::support::{sample, Desktop, HOST};

const RLO: char = '\u{202e}';

#[tokio::test]
async fn test_a_hostile_report_is_shown_escaped() {
    // Given a report whose every field tries something
    let desk = Desktop::new();
    let mut report = sample("<script>alert('text')</script> and a long tail");
    report.text.push_str(&"x".repeat(100 * 1024));
    report.category = format!("<img src=x onerror=alert(1)>{RLO}gpj.exe");
    report.language = "\"><script>alert('lang')</script>".into();
    report.place = Some(Place::Described {
        text: "javascript:alert('place')".into(),
    });
    report.people = vec![Person {
        name: Some("<b onmouseover=alert(1)>K</b>".into()),
        description: format!("{RLO}evil</textarea><script>alert(2)</script>"),
    }];
    report.contact = Some(Contact {
        name: Some("<iframe src=javascript:alert(3)>".into()),
        phone: Some("' onfocus='alert(4)".into()),
        email: Some("a@b\"><svg onload=alert(5)>".into()),
    });
    let id = desk.report_with(
        report,
        vec![(
            "<img src=x onerror=alert(6)>.jpg",
            "text/html\"><script>",
            b"\xff\xd8\xff\xe0".to_vec(),
        )],
    );
    let mut browser = desk.signed_in("anna", Role::Officer).await;

    // When an officer opens the report and the inbox
    let page = browser.get(&format!("/reports/{id}")).await;
    let inbox = browser.get("/").await;
    let search = browser.get("/?q=javascript").await;

    // Then everything is there, escaped, and nothing runs
    assert_eq!(page.status, StatusCode::OK);
    for html in [&page.body, &inbox.body, &search.body] {
        assert_eq!(html.matches("<script").count(), 1, "only the desk's own script");
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<iframe"));
        assert!(!html.contains("<svg"));
        assert!(!html.contains("<b onmouseover"));
        assert!(!html.contains("href=\"javascript:"));
        assert!(!has_event_handler(html));
    }
    assert!(page
        .body
        .contains("&#60;script&#62;alert(&#39;text&#39;)&#60;/script&#62;"));
    assert!(page.body.contains("&#60;img src=x onerror=alert(1)&#62;"));
    assert!(page.body.contains("javascript:alert(&#39;place&#39;)"));
    assert!(page.body.contains(&"x".repeat(100 * 1024)));
    // A right-to-left override stays inside its own isolated element
    assert!(page.body.contains(&format!(
        "<bdi>&#60;img src=x onerror=alert(1)&#62;{RLO}gpj.exe</bdi>"
    )));
    assert!(page.body.contains(&format!(
        "<span class=\"text\" dir=\"auto\">{RLO}evil&#60;/textarea&#62;"
    )));
    assert!(search.body.contains(&id.to_string()));
}

#[tokio::test]
async fn test_svg_and_html_attachments_are_only_downloads() {
    // Given a report with a photo, an SVG that claims to be a PNG, an HTML page and a PDF
    let desk = Desktop::new();
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>"#.to_vec();
    let id = desk.report_with(
        sample("files"),
        vec![
            ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 jpeg bytes".to_vec()),
            ("image.png", "image/png", svg.clone()),
            (
                "page.html",
                "text/html",
                b"<html><script>alert(1)</script></html>".to_vec(),
            ),
            ("doc.pdf", "application/pdf", b"%PDF-1.7 ...".to_vec()),
            ("clip.webm", "video/webm", b"\x1a\x45\xdf\xa3 webm".to_vec()),
            ("voice.ogg", "audio/ogg", b"OggS\0 ogg".to_vec()),
        ],
    );
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let url = |i: u16| format!("/reports/{id}/attachments/{i}");

    // Then the photo is shown inline as JPEG
    let photo = browser.get(&url(0)).await;
    assert_eq!(photo.status, StatusCode::OK);
    assert_eq!(photo.header("content-type"), "image/jpeg");
    assert!(photo
        .header("content-disposition")
        .starts_with("inline; filename=\"report-"));
    assert_eq!(photo.header("x-content-type-options"), "nosniff");
    // And the SVG, HTML and PDF are downloads of unknown bytes, whatever they claimed
    for i in 1..=3 {
        let file = browser.get(&url(i)).await;
        assert_eq!(file.status, StatusCode::OK);
        assert_eq!(file.header("content-type"), "application/octet-stream", "{i}");
        assert!(
            file.header("content-disposition").starts_with("attachment;"),
            "{i}"
        );
        assert!(file.header("content-disposition").ends_with(".bin\""), "{i}");
        assert_eq!(file.header("x-content-type-options"), "nosniff");
    }
    assert_eq!(browser.get(&url(1)).await.bytes, svg);
    // And the page shows the photo, plays the video and audio, and offers every download
    let page = browser.get(&format!("/reports/{id}")).await.body;
    assert!(page.contains(&format!("<img src=\"{}\"", url(0))));
    assert!(page.contains(&format!(
        "<video controls preload=\"metadata\" src=\"{}\"",
        url(4)
    )));
    assert!(page.contains(&format!(
        "<audio controls preload=\"metadata\" src=\"{}\"",
        url(5)
    )));
    assert!(!page.contains(&format!("<img src=\"{}\"", url(1))));
    for i in 0..6 {
        assert!(page.contains(&format!("href=\"{}/download\"", url(i))));
    }
    let download = browser.get(&format!("{}/download", url(0))).await;
    assert!(download.header("content-disposition").starts_with("attachment;"));
    // A missing attachment is not found
    assert_eq!(browser.get(&url(9)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn test_the_report_page_shows_every_field() {
    let desk = Desktop::new();
    let mut report = sample("A recruiter at the youth club, every Friday.");
    report.contact = Some(Contact {
        name: Some("Mette".into()),
        phone: Some("+45 12 34 56 78".into()),
        email: Some("mette@example.org".into()),
    });
    let id = desk.report_with(report, vec![]);
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let page = browser.get(&format!("/reports/{id}")).await.body;
    for expected in [
        "A recruiter at the youth club, every Friday.",
        "radicalisation",
        "Around 20, recruits at the gym",
        "blurred to about 1000 m",
        "between 2026-11-01 18:00 UTC and 2026-11-01 20:00 UTC",
        "Mette",
        "+45 12 34 56 78",
        "mette@example.org",
        "2027-01-15",
        "No messages yet.",
    ] {
        assert!(page.contains(expected), "{expected}");
    }
}

#[tokio::test]
async fn test_status_labels_assignment_and_notes_are_kept_with_their_history() {
    // Given two officers and a report
    let desk = Desktop::new();
    desk.account("bo", Role::Officer, true);
    let id = desk.report("text");
    let mut anna = desk.signed_in("anna", Role::Officer).await;
    let page = format!("/reports/{id}");

    // When anna works on it
    for (path, fields) in [
        ("status", vec![("status", "in-progress")]),
        ("labels", vec![("label", "Urgent")]),
        ("labels", vec![("label", "<b>bold</b>")]),
        ("assign", vec![("assignee", "bo")]),
        (
            "notes",
            vec![("text", "Called the school; <i>no</i> answer yet.")],
        ),
    ] {
        let answer = anna.submit(&page, &format!("{page}/{path}"), &fields).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}: {}", answer.body);
    }
    anna.submit(
        &page,
        &format!("{page}/labels/remove"),
        &[("label", "<b>bold</b>")],
    )
    .await;
    let bad = anna
        .submit(&page, &format!("{page}/assign"), &[("assignee", "nobody")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Then the page and the inbox show it, the history names who did it, and it is audited
    let body = anna.get(&page).await.body;
    assert!(body.contains("In progress"));
    assert!(body.contains("<bdi>anna</bdi>: New → In progress"));
    assert!(body.contains("<bdi>urgent</bdi>"));
    assert!(!body.contains("bold"));
    assert!(body.contains("<option value=\"bo\" selected>bo</option>"));
    assert!(body.contains("Called the school; &#60;i&#62;no&#60;/i&#62; answer yet."));
    let inbox = anna
        .get("/?label=urgent&assignee=bo&status=in-progress")
        .await
        .body;
    assert!(inbox.contains(&id.to_string()));
    assert!(desk.audited("anna", "report.status"));
    assert!(desk.audited("anna", "report.assign"));
    assert!(desk.audited("anna", "report.note"));
    // And it survives a restart of the desk: the team's data is in the store
    assert_eq!(desk.state.case(&id).labels, ["urgent"]);
    let reloaded = tipline_desk::state::load_accounts(desk.state.store()).unwrap();
    assert!(reloaded.contains_key("bo"));
}

#[tokio::test]
async fn test_inbox_filters_sorts_and_searches_the_opened_content() {
    let desk = Desktop::new();
    let gym = desk.report("Someone recruits at the gym on Nørrebro");
    let mut other = sample("Propaganda videos in a Telegram channel");
    other.category = "online_propaganda".into();
    let telegram = desk.report_with(other, vec![]);
    let closed = desk.report("An old case");
    desk.state
        .desk
        .set_status(&closed.to_string(), tipline_core::desk::Status::Closed)
        .unwrap();
    desk.state.report_changed(closed, ChangeKind::Team);
    let mut browser = desk.signed_in("anna", Role::Officer).await;

    let all = browser.get("/").await.body;
    assert!(all.contains("3 reports"));
    let found = browser.get("/?q=telegram+CHANNEL").await.body;
    assert!(found.contains(&telegram.to_string()) && !found.contains(&gym.to_string()));
    assert!(found.contains("One report"));
    let found = browser.get("/?q=n%C3%B8rrebro").await.body;
    assert!(found.contains(&gym.to_string()) && !found.contains(&telegram.to_string()));
    let by_category = browser.get("/?category=online_propaganda").await.body;
    assert!(by_category.contains(&telegram.to_string()) && !by_category.contains(&gym.to_string()));
    let by_status = browser.get("/?status=closed").await.body;
    assert!(by_status.contains(&closed.to_string()) && !by_status.contains(&gym.to_string()));
    let unassigned = browser.get("/?assignee=-").await.body;
    assert!(unassigned.contains("3 reports"));
    let dated = browser.get("/?from=2027-01-16").await.body;
    assert!(dated.contains("0 reports"));
    let dated = browser.get("/?from=2027-01-15&to=2027-01-15").await.body;
    assert!(dated.contains("3 reports"));
    let rows = browser.get("/inbox/rows?q=telegram").await;
    assert_eq!(rows.status, StatusCode::OK);
    assert!(rows.body.starts_with("<p class=\"count\">") && !rows.body.contains("<html"));
    let sorted = browser.get("/?sort=category").await.body;
    let (a, b) = (
        sorted.find(&telegram.to_string()).unwrap(),
        sorted.find(&gym.to_string()).unwrap(),
    );
    assert!(a < b, "online_propaganda sorts before radicalisation");
}

#[tokio::test]
async fn test_events_tell_signed_in_pages_what_changed_without_content() {
    // Given a signed-in officer listening to /events
    let desk = Desktop::new();
    let id = desk.report("the secret content");
    let browser = desk.signed_in("anna", Role::Officer).await;
    let request = Request::get("/events")
        .header(header::HOST, HOST)
        .header(
            header::COOKIE,
            format!("tipline_desk={}", browser.cookie.clone().unwrap()),
        )
        .body(Body::empty())
        .unwrap();
    let response = tipline_desk::app(desk.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();

    // When a label is added to the report
    desk.state
        .update_case(id, |c| c.add_label("urgent".into()))
        .unwrap();

    // Then the page is told which report changed and how, and nothing more
    let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let text = String::from_utf8(frame.to_vec()).unwrap();
    assert!(text.starts_with("event: change\ndata: "), "{text}");
    assert!(text.contains(&format!("\"report\":\"{id}\"")));
    assert!(text.contains("\"kind\":\"team\""));
    assert!(!text.contains("secret") && !text.contains("urgent"));
}

#[tokio::test]
async fn test_opening_a_report_marks_its_follow_ups_read() {
    use tipline_core::desk::MessageRecord;
    use tipline_core::report::MessageId;
    let desk = Desktop::new();
    let id = desk.report("text");
    for seq in [1, 2] {
        let message = MessageRecord {
            message_id: MessageId::random().unwrap(),
            seq,
            from_reporter: true,
            unit_id: crate::support::UNIT.into(),
            text: Some(format!("follow-up {seq} <script>")),
            sent_at: None,
            status: None,
        };
        desk.state.store().put_message(id, &message).unwrap();
    }
    desk.state.report_changed(id, ChangeKind::Messages);
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    assert!(browser
        .get("/")
        .await
        .body
        .contains("<strong class=\"unread\">2</strong>"));
    let page = browser.get(&format!("/reports/{id}")).await.body;
    assert!(page.contains("follow-up 2 &#60;script&#62;"), "{page}");
    assert!(!browser.get("/").await.body.contains("class=\"unread\""));
}

#[tokio::test]
async fn test_a_follow_up_shown_on_an_open_report_page_is_read() {
    use tipline_core::desk::MessageRecord;
    use tipline_core::report::MessageId;
    // Given an officer with a report's page open
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    browser.get(&format!("/reports/{id}")).await;
    // When a follow-up arrives and the open page redraws its live part
    let message = MessageRecord {
        message_id: MessageId::random().unwrap(),
        seq: 1,
        from_reporter: true,
        unit_id: crate::support::UNIT.into(),
        text: Some("he was there again".into()),
        sent_at: None,
        status: None,
    };
    desk.state.store().put_message(id, &message).unwrap();
    desk.state.report_changed(id, ChangeKind::Messages);
    let live = browser.get(&format!("/reports/{id}/live")).await.body;
    assert!(live.contains("he was there again"), "{live}");
    // Then the inbox counts it as read
    assert!(!browser.get("/").await.body.contains("class=\"unread\""));
}

#[tokio::test]
async fn test_events_stop_when_the_session_ends() {
    // Given a signed-in officer listening to /events
    let desk = Desktop::new();
    let id = desk.report("text");
    let browser = desk.signed_in("anna", Role::Officer).await;
    let request = Request::get("/events")
        .header(header::HOST, HOST)
        .header(
            header::COOKIE,
            format!("tipline_desk={}", browser.cookie.clone().unwrap()),
        )
        .body(Body::empty())
        .unwrap();
    let response = tipline_desk::app(desk.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let mut body = response.into_body();

    // When the session ends (a supervisor disabled the account) and then something changes
    desk.state.sessions.end_account("anna");
    desk.state.publish(id, ChangeKind::Team);

    // Then the stream ends without telling it
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn test_a_large_attachment_is_streamed_whole() {
    // Given a video of several stored chunks
    let desk = Desktop::new();
    let mut video = b"\x00\x00\x00\x18ftypmp42".to_vec();
    video.extend((0..300_000u32).map(|i| (i % 251) as u8));
    let id = desk.report_with(sample("video"), vec![("clip.mp4", "video/mp4", video.clone())]);
    let mut browser = desk.signed_in("anna", Role::Officer).await;

    // When it is played
    let answer = browser.get(&format!("/reports/{id}/attachments/0")).await;

    // Then every byte arrives, as MP4, with its length
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "video/mp4");
    assert_eq!(answer.header("content-length"), video.len().to_string());
    assert!(answer.bytes == video);
}

#[tokio::test]
async fn test_a_transfer_needs_the_authority_key_and_a_unit() {
    // Given a desk started without the authority's key
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut anna = desk.signed_in("anna", Role::Officer).await;
    let page = format!("/reports/{id}");
    assert!(anna
        .get(&page)
        .await
        .body
        .contains(&format!("action=\"{page}/transfer\"")));

    // When an officer asks for a transfer, it is refused with the reason and nothing changes
    let answer = anna
        .submit(&page, &format!("{page}/transfer"), &[("to_unit", "es-madrid")])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("--authority-pub"));
    let empty = anna
        .submit(&page, &format!("{page}/transfer"), &[("to_unit", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let record = desk.state.store().report(id).unwrap().unwrap();
    assert!(record.transfer.is_none());
    assert_eq!(record.status.name(), "new");
}

#[tokio::test]
async fn test_a_transfer_asks_the_intake_for_the_directory() {
    // Given a desk with the authority's key, and no intake answering
    let desk = Desktop::with_authority(Some(tipline_core::keys::VerifyingKey([7; 32])));
    let id = desk.report("text");
    let mut anna = desk.signed_in("anna", Role::Officer).await;
    let page = format!("/reports/{id}");

    // When an officer transfers the report
    let answer = anna
        .submit(&page, &format!("{page}/transfer"), &[("to_unit", "es-madrid")])
        .await;

    // Then the officer is told the intake did not answer; the attempt is audited; nothing moved
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(desk.audited("anna", "report.transfer"));
    assert!(desk.state.store().report(id).unwrap().unwrap().transfer.is_none());
}

#[tokio::test]
async fn test_a_report_stored_by_the_receiving_loop_appears_once_it_is_announced() {
    // Given an officer with the inbox open
    let desk = Desktop::new();
    desk.report("first");
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    assert!(browser.get("/").await.body.contains("One report"));

    // When a report is stored by someone else and announced on the desk's channel
    let mut record = desk.state.store().reports().unwrap().remove(0);
    record.report_id = tipline_core::report::ReportId::random().unwrap();
    record.report.text = "second, from the receiving loop".into();
    desk.state.store().put_report(&record).unwrap();
    let sent = desk.state.events().send(tipline_desk::Change {
        report: record.report_id.to_string(),
        kind: ChangeKind::Report,
    });
    assert!(sent.is_ok());

    // Then the inbox lists it and a search finds it
    assert!(browser.get("/").await.body.contains("2 reports"));
    let found = browser.get("/?q=receiving+loop").await.body;
    assert!(found.contains(&record.report_id.to_string()));
}

#[tokio::test]
async fn test_the_receiving_loops_events_are_audited_together_and_announced_in_order() {
    // Given three reports the receiving loop stored (two new, one delivered again), a follow-up
    // and a refusal, told together as a backlog's events are
    let desk = Desktop::new();
    let ids = [desk.report("one"), desk.report("two"), desk.report("three")];
    let record = |i: usize| desk.state.store().report(ids[i]).unwrap().unwrap();
    let received = |i: usize, first_time: bool| DeskEvent::Received {
        received: Box::new(Received {
            record: record(i),
            first_time,
            pending: vec![],
        }),
        delivery_count: 1,
    };
    let events = vec![
        DeskEvent::Connected,
        received(0, true),
        DeskEvent::Refused {
            report_id: ReportId::random().unwrap(),
            reason: "does not open".into(),
        },
        received(1, false),
        DeskEvent::FollowUp {
            report_id: ids[1],
            message: None,
        },
        received(2, true),
    ];
    let before = desk.audit().len();
    let mut changes = desk.state.subscribe();

    // When the desk handles them
    tipline_desk::receiver::handle_all(&desk.state, events);

    // Then the two new ones are audited, in order, and nothing else is
    let audit = desk.audit();
    let added: Vec<(&str, Option<String>)> = audit[before..]
        .iter()
        .map(|e| (e.action.as_str(), e.target.clone()))
        .collect();
    assert_eq!(
        added,
        [
            ("report.received", Some(ids[0].to_string())),
            ("report.received", Some(ids[2].to_string()))
        ]
    );
    // and every report and follow-up is announced in the order the loop told them
    let mut told = Vec::new();
    while let Ok(change) = changes.try_recv() {
        told.push((change.report, change.kind));
    }
    assert_eq!(
        told,
        [
            (ids[0].to_string(), ChangeKind::Report),
            (ids[1].to_string(), ChangeKind::Report),
            (ids[1].to_string(), ChangeKind::Messages),
            (ids[2].to_string(), ChangeKind::Report),
        ]
    );
}

#[tokio::test]
async fn test_a_video_can_be_played_from_any_point() {
    // Given a stored video of several chunks
    let desk = Desktop::new();
    let mut video = b"\x00\x00\x00\x18ftypmp42".to_vec();
    video.extend((0..200_000u32).map(|i| (i % 253) as u8));
    let id = desk.report_with(sample("video"), vec![("clip.mp4", "video/mp4", video.clone())]);
    let browser = desk.signed_in("anna", Role::Officer).await;
    let url = format!("/reports/{id}/attachments/0");
    let ranged = |range: &str| {
        Request::get(&url)
            .header(header::HOST, HOST)
            .header(header::RANGE, range)
            .header(
                header::COOKIE,
                format!("tipline_desk={}", browser.cookie.clone().unwrap()),
            )
            .body(Body::empty())
            .unwrap()
    };
    let mut browser = crate::support::Browser {
        state: desk.state.clone(),
        cookie: browser.cookie.clone(),
    };

    // When the player asks for a range across a chunk boundary, and for the last bytes
    let middle = browser.send(ranged("bytes=65530-65545")).await;
    let tail = browser.send(ranged("bytes=-10")).await;
    let beyond = browser.send(ranged(&format!("bytes={}-", video.len()))).await;

    // Then it gets exactly those bytes, said to be partial, and a range past the end is refused
    assert_eq!(middle.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        middle.header("content-range"),
        format!("bytes 65530-65545/{}", video.len())
    );
    assert_eq!(middle.header("content-length"), "16");
    assert!(middle.bytes == video[65530..=65545]);
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert!(tail.bytes == video[video.len() - 10..]);
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.header("content-range"), format!("bytes */{}", video.len()));
    let whole = browser.get(&url).await;
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert!(whole.bytes == video);
    // And the viewing is recorded: the player's first range (it did not start at 0) once,
    // its later ranges not again, and the whole file asked for again recorded again
    let views = desk
        .audit()
        .iter()
        .filter(|e| e.action == "attachment.view" && e.actor.as_deref() == Some("anna"))
        .count();
    assert_eq!(views, 2);
}

#[tokio::test]
async fn test_a_report_read_by_any_way_is_in_the_audit_log() {
    // Given a report with a follow-up and a note, never opened by this officer's page
    let desk = Desktop::new();
    let id = desk.report_with(
        sample("text"),
        vec![("clip.mp4", "video/mp4", b"\x00\x00\x00\x18ftypmp42 rest".to_vec())],
    );
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let opened = |desk: &Desktop| {
        desk.audit()
            .iter()
            .filter(|e| e.action == "report.opened" && e.target.as_deref() == Some(id.to_string().as_str()))
            .count()
    };

    // When its live parts are asked for directly, then again
    assert_eq!(
        browser.get(&format!("/reports/{id}/live")).await.status,
        StatusCode::OK
    );
    assert_eq!(opened(&desk), 1);
    browser.get(&format!("/reports/{id}/live")).await;
    browser.get(&format!("/reports/{id}/live/attachments")).await;
    // Then the reading is recorded once, not at every refresh
    assert_eq!(opened(&desk), 1);
    // And opening the page is recorded every time
    browser.get(&format!("/reports/{id}")).await;
    assert_eq!(opened(&desk), 2);

    // When a range past the first byte is asked for, with no viewing recorded before
    let mut request = axum::http::Request::get(format!("/reports/{id}/attachments/0"))
        .header(header::HOST, HOST)
        .header(header::RANGE, "bytes=1-")
        .body(Body::empty())
        .unwrap();
    request.headers_mut().insert(
        header::COOKIE,
        format!("tipline_desk={}", browser.cookie.clone().unwrap())
            .parse()
            .unwrap(),
    );
    let answer = browser.send(request).await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
    // Then the viewing is recorded
    assert!(desk.audited("anna", "attachment.view"));
}

#[tokio::test]
async fn test_events_end_when_the_desk_shuts_down() {
    let desk = Desktop::new();
    let browser = desk.signed_in("anna", Role::Officer).await;
    let request = Request::get("/events")
        .header(header::HOST, HOST)
        .header(
            header::COOKIE,
            format!("tipline_desk={}", browser.cookie.clone().unwrap()),
        )
        .body(Body::empty())
        .unwrap();
    let response = tipline_desk::app(desk.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let mut body = response.into_body();
    desk.state.close();
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn test_the_inbox_pages_through_many_reports() {
    // Given more reports than one page shows
    let desk = Desktop::new();
    let count = tipline_desk::views::inbox::PAGE + 5;
    for i in 0..count {
        desk.report(&format!("report number {i}"));
    }
    let mut browser = desk.signed_in("anna", Role::Officer).await;

    // Then the first page shows a page of them and links to the next, keeping the filters
    let first = browser.get("/?status=new&lang=da").await.body;
    assert_eq!(
        first.matches("<tr class=\"status-new\">").count(),
        tipline_desk::views::inbox::PAGE
    );
    assert!(first.contains("href=\"/?status=new&page=1\""));
    assert!(!first.contains("rel=\"prev\""));
    let second = browser.get("/?status=new&page=1").await.body;
    assert_eq!(second.matches("<tr class=\"status-new\">").count(), 5);
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));
    assert!(second.contains("data-live=\"/inbox/rows?status=new&page=1\""));
}

#[tokio::test]
async fn test_a_reply_is_checked_and_an_unreachable_intake_stores_nothing() {
    // Given a report and an intake that does not answer
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut anna = desk.signed_in("anna", Role::Officer).await;
    let page = format!("/reports/{id}");

    // An empty or oversized reply is refused before anything is sealed
    let empty = anna
        .submit(&page, &format!("{page}/reply"), &[("text", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let long = "x".repeat(10_001);
    let too_long = anna
        .submit(&page, &format!("{page}/reply"), &[("text", &long)])
        .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);

    // A good reply that cannot be posted is reported as such, and no message is kept
    let answer = anna
        .submit(
            &page,
            &format!("{page}/reply"),
            &[("text", "Thank you, we are looking into it.")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(desk.state.store().messages(id).unwrap().is_empty());
    assert!(desk.audited("anna", "report.reply"));
    let sync = anna.submit(&page, &format!("{page}/sync"), &[]).await;
    assert_eq!(sync.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn test_an_open_report_page_redraws_its_attachments_when_they_arrive() {
    // Given a report page open while its photo is still uploading
    let desk = Desktop::new();
    let id = desk.report_with(
        sample("photo late"),
        vec![("late.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 jpeg bytes".to_vec())],
    );
    let mut record = desk.state.store().report(id).unwrap().unwrap();
    record.attachments = vec![tipline_core::desk::AttachmentState::Pending];
    desk.state.store().put_report(&record).unwrap();
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let page = browser.get(&format!("/reports/{id}")).await.body;
    assert!(page.contains(&format!(
        "data-live=\"/reports/{id}/live/attachments\" data-report=\"{id}\" data-kinds=\"report\""
    )));
    let img = format!("<img src=\"/reports/{id}/attachments/0\"");
    assert!(!page.contains(&img), "{page}");
    let opened = desk.audit().len();

    // When the desk has it and the page asks for its attachments again
    record.attachments = vec![tipline_core::desk::AttachmentState::Saved];
    desk.state.store().put_report(&record).unwrap();
    desk.state.report_changed(id, ChangeKind::Report);
    let live = browser.get(&format!("/reports/{id}/live/attachments")).await;

    // Then the fragment shows the photo (and only the attachments), and no opening is counted
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.body.contains(&img), "{}", live.body);
    assert!(live.body.contains("late.jpg"));
    assert!(!live.body.contains("<html"));
    assert_eq!(desk.audit().len(), opened);
    // and a signed-out browser gets nothing of it.
    let answer = desk
        .browser()
        .get(&format!("/reports/{id}/live/attachments"))
        .await;
    assert!(!answer.body.contains("late.jpg"));
}

#[tokio::test]
async fn test_out_of_bounds_searches_pages_labels_and_units_are_refused_or_answered() {
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    // A search of too many words is refused with a reason; a page far past the end is empty
    let words = vec!["word"; 17].join(" ");
    let answer = browser.get(&format!("/?q={}", words.replace(' ', "+"))).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("16 words"), "{}", answer.body);
    let answer = browser.get(&format!("/?page={}", usize::MAX)).await;
    assert_eq!(answer.status, StatusCode::OK);
    // A label removed from a report that does not exist, or too long, is refused
    let missing = "00000000000000000000000000000000";
    let answer = browser
        .submit(
            "/",
            &format!("/reports/{missing}/labels/remove"),
            &[("label", "x")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let long = "l".repeat(100_000);
    let answer = browser
        .submit("/", &format!("/reports/{id}/labels/remove"), &[("label", &long)])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    // and nothing of it reached the audit log
    assert!(!desk.audit().iter().any(|e| e.action == "report.label_remove"));
}
