//! What leaves the desk for others, done in a browser: an alert a supervisor publishes reaches
//! a citizen's phone in the alert's region, and a report transferred to another unit reaches
//! that unit's own desk; both are in the audit log.

use std::time::Duration;

use tipline_core::l10n::Language;
use tipline_e2e::{live_inbox, next_report, OTHER_UNIT};

use crate::desk::{
    audit_page, draft, logged, sign_in_first_time, submit_form, text_of, wait_for, DeskUnderTest, SUPERVISOR,
};
use crate::driver::Browser;

const TITLE: &str = "Fake recruitment posts";
const BODY: &str = "A video shared in school chats is fake. Do not share it; tell us instead.";

#[tokio::test]
async fn test_an_alert_reaches_the_citizen_and_a_transferred_report_reaches_the_other_unit() {
    // Given a desk with its supervisor signed in
    let desk = DeskUnderTest::start().await.unwrap();
    let browser = Browser::start(1024, 768).await.unwrap();
    let page = &browser.client;
    sign_in_first_time(page, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();

    // When the supervisor publishes an alert for DK-84
    page.goto(&desk.at("/admin/alerts")).await.unwrap();
    submit_form(
        page,
        "form[action='/admin/alerts']",
        &[
            ("regions", "DK-84"),
            ("severity", "warning"),
            ("hours", "24"),
            ("title_en", TITLE),
            ("body_en", BODY),
            ("title_da", "Falske hvervningsopslag"),
            ("body_da", "Del ikke videoen; fortæl os om den."),
        ],
    )
    .await
    .unwrap();
    wait_for(page, "document.querySelector('p.ok code')", "the alert published")
        .await
        .unwrap();
    // Then a citizen's phone in DK-84 shows it, checked against the unit's signature
    let citizen = desk.citizen("phone").await.unwrap();
    let alerts = citizen.alerts("DK-84", Language::English).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.title == TITLE && a.body == BODY && a.unit_id == tipline_e2e::UNIT),
        "{alerts:?}"
    );

    // When an officer transfers a report to another unit from its page
    let other_desk = tipline_e2e::desk(&desk.server, OTHER_UNIT).unwrap();
    let mut other_inbox = live_inbox(&other_desk).await.unwrap();
    let filed = citizen
        .file_report(&draft(
            "Min nabo planlægger at rejse til Syrien; han bor i Aalborg.",
        ))
        .unwrap();
    assert_eq!(citizen.flush().await.unwrap().delivered, 1);
    let id = filed.report_id.to_string();
    page.goto(desk.url()).await.unwrap();
    wait_for(
        page,
        &format!("document.querySelector(\"table.inbox a[href='/reports/{id}']\")"),
        "the report in the inbox",
    )
    .await
    .unwrap();
    page.goto(&desk.at(&format!("/reports/{id}"))).await.unwrap();
    submit_form(
        page,
        &format!("form[action='/reports/{id}/transfer']"),
        &[("to_unit", OTHER_UNIT)],
    )
    .await
    .unwrap();
    // Then the page shows where it went and that it is forwarded
    wait_for(
        page,
        &format!("[...document.querySelectorAll('dl dd bdi')].some(b => b.textContent === '{OTHER_UNIT}')"),
        "the transfer on the report page",
    )
    .await
    .unwrap();
    assert!(text_of(page, "section.team h2")
        .await
        .unwrap()
        .contains("Forwarded"));
    // And the other unit's desk receives the report
    let delivery = next_report(&mut other_inbox, Duration::from_secs(20))
        .await
        .unwrap()
        .expect("the transferred report at the other unit's desk");
    assert_eq!(delivery.report_id, filed.report_id);

    // And both are in the audit log
    let log = audit_page(page, &desk).await.unwrap();
    assert!(logged(&log, SUPERVISOR, "alert.publish", ""), "{log:#?}");
    assert!(logged(&log, SUPERVISOR, "report.transfer", &id), "{log:#?}");
    browser.quit().await.unwrap();
}
