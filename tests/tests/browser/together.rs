//! Two officers with the same report open, each in their own browser: what one changes (status,
//! label, assignee) appears on the other's open page without a reload.

use fantoccini::Client;

use crate::desk::{
    add_officer, draft, mark_page, sign_in_first_time, sign_out, still_marked, submit_form, text_of,
    wait_for, DeskUnderTest, PASSWORD, SUPERVISOR,
};
use crate::driver::Browser;

const FIRST: &str = "per";
const SECOND: &str = "olga";

async fn open_report(page: &Client, desk: &DeskUnderTest, id: &str) {
    page.goto(&desk.at(&format!("/reports/{id}"))).await.unwrap();
    wait_for(page, "document.querySelector('section.team')", "the report page")
        .await
        .unwrap();
}

#[tokio::test]
async fn test_two_officers_on_one_report_see_each_others_changes_without_a_reload() {
    // Given two officers, each signed in in their own browser, with the same report open
    let desk = DeskUnderTest::start().await.unwrap();
    let (first, second) = tokio::try_join!(Browser::start(1024, 768), Browser::start(1024, 768)).unwrap();
    let (per, olga) = (&first.client, &second.client);
    sign_in_first_time(per, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();
    add_officer(per, &desk, FIRST).await.unwrap();
    add_officer(per, &desk, SECOND).await.unwrap();
    sign_out(per).await.unwrap();
    sign_in_first_time(per, &desk, FIRST, PASSWORD).await.unwrap();
    sign_in_first_time(olga, &desk, SECOND, PASSWORD).await.unwrap();
    let citizen = desk.citizen("phone").await.unwrap();
    let filed = citizen
        .file_report(&draft("Der bliver hvervet til en lukket gruppe efter fodbold."))
        .unwrap();
    assert_eq!(citizen.flush().await.unwrap().delivered, 1);
    let id = filed.report_id.to_string();
    wait_for(
        olga,
        &format!("document.querySelector(\"table.inbox a[href='/reports/{id}']\")"),
        "the report in the inbox",
    )
    .await
    .unwrap();
    open_report(per, &desk, &id).await;
    open_report(olga, &desk, &id).await;
    mark_page(olga).await.unwrap();
    let form = |action: &str| format!("form[action='/reports/{id}/{action}']");

    // When the first sets the status and adds a label
    submit_form(per, &form("status"), &[("status", "in-progress")])
        .await
        .unwrap();
    wait_for(
        per,
        "document.querySelectorAll('ol.history li').length === 1",
        "the status set",
    )
    .await
    .unwrap();
    submit_form(per, &form("labels"), &[("label", "haster")])
        .await
        .unwrap();
    // Then the second's open page shows both, without a reload
    wait_for(
        olga,
        "document.querySelectorAll('ol.history li').length === 1 \
         && [...document.querySelectorAll('ul.labels .label')].some(l => l.textContent === 'haster')",
        "the first officer's status and label on the second's open page",
    )
    .await
    .unwrap();
    assert!(text_of(olga, "section.team h2")
        .await
        .unwrap()
        .contains("In progress"));
    assert!(text_of(olga, "ol.history li").await.unwrap().contains(FIRST));
    assert!(
        still_marked(olga).await.unwrap(),
        "the second officer's page was not reloaded"
    );

    // When the second assigns the report to herself
    wait_for(
        per,
        "[...document.querySelectorAll('ul.labels .label')].some(l => l.textContent === 'haster')",
        "the label on the first's page",
    )
    .await
    .unwrap();
    mark_page(per).await.unwrap();
    submit_form(olga, &form("assign"), &[("assignee", SECOND)])
        .await
        .unwrap();
    // Then the first's open page shows it, without a reload
    wait_for(
        per,
        &format!(
            "document.querySelector(\"{} option[value='{SECOND}']\").selected",
            form("assign")
        ),
        "the second officer's assignment on the first's open page",
    )
    .await
    .unwrap();
    assert!(
        still_marked(per).await.unwrap(),
        "the first officer's page was not reloaded"
    );
    first.quit().await.unwrap();
    second.quit().await.unwrap();
}
