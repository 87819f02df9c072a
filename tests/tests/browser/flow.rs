//! The desk's main flow in real browsers, against a real intake and a real desk: a supervisor
//! signs in and adds an officer; a citizen's report with a photo appears in the officer's open
//! inbox; the officer works it and replies; the citizen reads the reply and answers, and the
//! answer appears on the officer's open page; the audit log holds every step. Screenshots of
//! the inbox and the report page, in English and in Arabic, are taken on the way.

use crate::desk::{
    add_officer, audit_page, click, draft, js, logged, mark_page, photo, screenshot_dir, sign_in_first_time,
    still_marked, submit_form, text_of, wait_for, DeskUnderTest, PASSWORD, SUPERVISOR,
};
use crate::driver::Browser;

const OFFICER: &str = "olga";
const REPLY: &str = "Tak for din henvendelse. Hvornår skete det?";
const FOLLOW_UP: &str = "I går omkring kl. 22, ved stationen.";
const NOTE: &str = "Ring til skolen i morgen.";
const LABEL: &str = "skole";

#[tokio::test]
async fn test_a_report_with_a_photo_is_worked_from_the_open_inbox_to_the_reporters_answer() {
    // Given an intake, a desk, a supervisor who adds an officer, and the officer signed in with
    // the inbox open
    let desk = DeskUnderTest::start().await.unwrap();
    let (supervisor, officer) =
        tokio::try_join!(Browser::start(1280, 900), Browser::start(1280, 900)).unwrap();
    let (sup, off) = (&supervisor.client, &officer.client);
    sign_in_first_time(sup, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();
    add_officer(sup, &desk, OFFICER).await.unwrap();
    sign_in_first_time(off, &desk, OFFICER, PASSWORD).await.unwrap();
    assert_eq!(
        js(
            off,
            "return document.querySelectorAll('table.inbox tbody tr').length"
        )
        .await
        .unwrap(),
        0,
        "the inbox starts empty"
    );
    mark_page(off).await.unwrap();

    // When a citizen files a report with a photo
    let citizen = desk.citizen("phone").await.unwrap();
    let mut report = draft("En ung mand deler IS-videoer i en gruppechat for elever fra 8. klasse.");
    report.place = Some(tipline_core::compose::DraftPlace::Described {
        text: "Vestegnens station".into(),
    });
    report.attachments.push(photo());
    let filed = citizen.file_report(&report).unwrap();
    assert_eq!(citizen.flush().await.unwrap().delivered, 1);
    let id = filed.report_id.to_string();

    // Then it appears in the officer's open inbox without a reload
    let row_link = format!("table.inbox a[href='/reports/{id}']");
    wait_for(
        off,
        &format!("document.querySelector(\"{row_link}\")"),
        "the report in the open inbox",
    )
    .await
    .unwrap();
    assert!(
        still_marked(off).await.unwrap(),
        "the inbox showed the report without a reload or a navigation"
    );

    // When the officer opens it
    click(off, &row_link).await.unwrap();
    // Then the photo is shown, decoded by the browser
    let photo_img = format!("img[src='/reports/{id}/attachments/0']");
    wait_for(
        off,
        &format!("(function () {{ var i = document.querySelector(\"{photo_img}\"); return i && i.complete && i.naturalWidth > 0; }})()"),
        "the photo shown on the report page",
    )
    .await
    .unwrap();
    assert_eq!(
        js(
            off,
            &format!("return document.querySelector(\"{photo_img}\").naturalWidth")
        )
        .await
        .unwrap(),
        64
    );
    assert!(text_of(off, "div.text").await.unwrap().contains("gruppechat"));

    // When the officer assigns it to herself, labels it, notes, sets a status and replies
    let form = |action: &str| format!("form[action='/reports/{id}/{action}']");
    submit_form(off, &form("assign"), &[("assignee", OFFICER)])
        .await
        .unwrap();
    wait_for(
        off,
        &format!(
            "document.querySelector(\"{} option[value='{OFFICER}']\").selected",
            form("assign")
        ),
        "the report assigned",
    )
    .await
    .unwrap();
    submit_form(off, &form("labels"), &[("label", LABEL)])
        .await
        .unwrap();
    wait_for(
        off,
        &format!("[...document.querySelectorAll('ul.labels .label')].some(l => l.textContent === '{LABEL}')"),
        "the label shown",
    )
    .await
    .unwrap();
    submit_form(off, &form("notes"), &[("text", NOTE)]).await.unwrap();
    wait_for(
        off,
        &format!("[...document.querySelectorAll('ol.notes .text')].some(n => n.textContent === '{NOTE}')"),
        "the note shown",
    )
    .await
    .unwrap();
    submit_form(off, &form("status"), &[("status", "in-progress")])
        .await
        .unwrap();
    wait_for(
        off,
        "document.querySelectorAll('ol.history li').length === 1",
        "the status change in the history",
    )
    .await
    .unwrap();
    assert!(text_of(off, "section.team h2")
        .await
        .unwrap()
        .contains("In progress"));
    submit_form(off, &form("reply"), &[("text", REPLY)])
        .await
        .unwrap();
    wait_for(
        off,
        &format!("[...document.querySelectorAll('ol.conversation li.from-unit .text')].some(m => m.textContent === '{REPLY}')"),
        "the reply in the conversation",
    )
    .await
    .unwrap();

    // and tells the reporter the report was read (a status notice in the report's language)
    submit_form(off, &form("notice"), &[("notice", "received")])
        .await
        .unwrap();
    wait_for(
        off,
        "document.querySelectorAll('ol.conversation li.from-unit').length === 2",
        "the notice in the conversation",
    )
    .await
    .unwrap();

    // Then the citizen, on a second phone with only the codename, reads the reply and the notice
    let other_phone = desk.citizen("second-phone").await.unwrap();
    let case_id = other_phone.recover_case(&filed.codename).await.unwrap();
    assert_eq!(case_id, filed.case_id);
    let conversation = other_phone.conversation(case_id).await.unwrap();
    assert!(
        conversation
            .iter()
            .any(|m| m.from_unit && m.text.as_deref() == Some(REPLY) && m.status.is_none()),
        "{conversation:?}"
    );
    assert!(
        conversation.iter().any(|m| m.from_unit
            && m.status == Some(tipline_core::message::CaseStatus::Received)
            && m.text.as_deref() == Some("Din henvendelse er modtaget og læst.")),
        "{conversation:?}"
    );

    // When the citizen answers while the officer has the report open
    mark_page(off).await.unwrap();
    citizen.send_follow_up(filed.case_id, FOLLOW_UP).await.unwrap();
    // Then the answer appears on the open page without a reload
    wait_for(
        off,
        &format!("[...document.querySelectorAll('ol.conversation li.from-reporter .text')].some(m => m.textContent === '{FOLLOW_UP}')"),
        "the follow-up on the open report page",
    )
    .await
    .unwrap();
    assert!(
        still_marked(off).await.unwrap(),
        "the follow-up came without a reload"
    );

    // And the supervisor's audit page lists every step
    let log = audit_page(sup, &desk).await.unwrap();
    for (actor, action, target) in [
        ("", "account.add", SUPERVISOR),
        (SUPERVISOR, "totp.enrolled", ""),
        (SUPERVISOR, "login.ok", ""),
        (SUPERVISOR, "account.add", OFFICER),
        (OFFICER, "totp.enrolled", ""),
        (OFFICER, "login.ok", ""),
        ("", "report.received", id.as_str()),
        (OFFICER, "attachment.view", id.as_str()),
        (OFFICER, "report.assign", id.as_str()),
        (OFFICER, "report.label_add", id.as_str()),
        (OFFICER, "report.note", id.as_str()),
        (OFFICER, "report.status", id.as_str()),
        (OFFICER, "report.reply", id.as_str()),
        (OFFICER, "report.notice", id.as_str()),
    ] {
        assert!(
            logged(&log, actor, action, target),
            "no {action} by {actor:?} on {target:?} in the audit page: {log:#?}"
        );
    }
    // The note's text and the reply's are content: never in the log
    assert!(log
        .iter()
        .all(|l| !l.detail.contains(NOTE) && !l.detail.contains(REPLY)));

    // And the inbox and the report page look right in English and in Arabic
    let (dir, _keep) = screenshot_dir().unwrap();
    for lang in ["en", "ar"] {
        // The inbox holds one row; the report page is long.
        off.set_window_size(1280, 480).await.unwrap();
        off.goto(&desk.at(&format!("/?lang={lang}"))).await.unwrap();
        wait_for(
            off,
            &format!("document.querySelector(\"{row_link}\")"),
            "the inbox",
        )
        .await
        .unwrap();
        let dir_attr = if lang == "ar" { "rtl" } else { "ltr" };
        assert_eq!(
            js(off, "return document.documentElement.dir").await.unwrap(),
            dir_attr
        );
        officer
            .screenshot(&dir.join(format!("inbox-{lang}.png")))
            .await
            .unwrap();
        off.set_window_size(1280, 2000).await.unwrap();
        off.goto(&desk.at(&format!("/reports/{id}"))).await.unwrap();
        wait_for(
            off,
            &format!("(function () {{ var i = document.querySelector(\"{photo_img}\"); return i && i.complete && i.naturalWidth > 0; }})()"),
            "the report page with its photo",
        )
        .await
        .unwrap();
        assert_eq!(
            js(off, "return document.documentElement.dir").await.unwrap(),
            dir_attr
        );
        officer
            .screenshot(&dir.join(format!("report-{lang}.png")))
            .await
            .unwrap();
    }
    for name in ["inbox-en", "report-en", "inbox-ar", "report-ar"] {
        assert!(
            crate::desk::is_png(&dir.join(format!("{name}.png"))),
            "{name}.png"
        );
    }
    supervisor.quit().await.unwrap();
    officer.quit().await.unwrap();
}
