//! A photo that arrives after its report: the officer's open report page shows the report with
//! the photo still uploading, then the photo, without a reload.

use crate::desk::{
    click, draft, js, mark_page, photo, sign_in_first_time, still_marked, text_of, wait_for, DeskUnderTest,
    SUPERVISOR,
};
use crate::driver::Browser;

#[tokio::test]
async fn test_an_open_report_page_shows_a_photo_that_arrives_late() {
    // Given a desk with its supervisor signed in, and a citizen's report with a photo whose
    // upload is held back (its sealed file kept away from the phone's outbox)
    let desk = DeskUnderTest::start().await.unwrap();
    let browser = Browser::start(1024, 768).await.unwrap();
    let page = &browser.client;
    sign_in_first_time(page, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();
    let citizen = desk.citizen("phone").await.unwrap();
    let mut report = draft("Han viser billeder af våben i klassen.");
    report.attachments.push(photo());
    let filed = citizen.file_report(&report).unwrap();
    let id = filed.report_id.to_string();
    let sealed = desk
        .citizen_dir("phone")
        .join("outbox")
        .join(format!("{id}-0.sealed"));
    let held = sealed.with_extension("held");
    std::fs::rename(&sealed, &held).unwrap();
    // the report reaches the intake, its photo does not.
    let first = citizen.flush().await.unwrap();
    assert_eq!(first.delivered, 0, "the photo could not be uploaded yet");

    // When the supervisor opens the report while its photo is still uploading
    let row_link = format!("table.inbox a[href='/reports/{id}']");
    wait_for(
        page,
        &format!("document.querySelector(\"{row_link}\")"),
        "the report in the open inbox",
    )
    .await
    .unwrap();
    click(page, &row_link).await.unwrap();
    wait_for(
        page,
        "document.querySelector('ul.attachments')",
        "the attachments listed",
    )
    .await
    .unwrap();
    let photo_img = format!("img[src='/reports/{id}/attachments/0']");
    assert_eq!(
        js(
            page,
            &format!("return document.querySelector(\"{photo_img}\") === null")
        )
        .await
        .unwrap(),
        true,
        "no photo yet: {}",
        text_of(page, "ul.attachments").await.unwrap()
    );
    mark_page(page).await.unwrap();

    // and the phone uploads the photo
    std::fs::rename(&held, &sealed).unwrap();
    assert!(citizen.retry(filed.report_id).unwrap());
    assert_eq!(citizen.flush().await.unwrap().delivered, 1);

    // Then the open page shows it, decoded by the browser, without a reload
    wait_for(
        page,
        &format!("(function () {{ var i = document.querySelector(\"{photo_img}\"); return i && i.complete && i.naturalWidth > 0; }})()"),
        "the late photo shown on the open report page",
    )
    .await
    .unwrap();
    assert!(
        still_marked(page).await.unwrap(),
        "the page showed the photo without a reload"
    );
    assert!(text_of(page, "ul.attachments")
        .await
        .unwrap()
        .contains("chat.jpg"));
}
