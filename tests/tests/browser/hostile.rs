//! A report written to attack the desk (markup and script in every text field, a `javascript:`
//! link, right-to-left override characters, a field at its longest, an SVG with a script and an
//! HTML page as attachments, one of them claiming to be a GIF) is shown as text: no script of it
//! runs, no element of it is made, and the active files are only ever downloads.

use tipline_core::compose::DraftPlace;
use tipline_core::report::{Contact, Person, MAX_TEXT_CHARS};
use tipline_e2e::files::attachment;

use crate::desk::{draft, js, sign_in_first_time, text_of, wait_for, DeskUnderTest, SUPERVISOR};
use crate::driver::Browser;

const SCRIPT: &str = "<script>window.__pwned=1</script>";
const IMG: &str = "<img src=x onerror=\"window.__pwned=1\">";
const LINK: &str = "<a href=\"javascript:window.__pwned=1\">se videoen</a>";
/// A right-to-left override: what follows reads backwards ("exe.gpj" shows as "jpg.exe").
const RLO: &str = "foto\u{202E}gpj.exe\u{202C}";

const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned=1\">\
<script>window.__pwned=1</script><circle r=\"10\"/></svg>";
const HTML: &str = "<!DOCTYPE html><html><body><script>window.__pwned=1;parent.__pwned=1</script>\
<img src=x onerror=\"parent.__pwned=1\"></body></html>";

/// The report's text: every attack, then four-byte characters up to the longest text the
/// report model allows ([`MAX_TEXT_CHARS`] characters: 80 KB, the most one field can hold).
fn long_hostile_text() -> String {
    let mut text = format!("{SCRIPT} {IMG} {LINK} {RLO}\n");
    let used = text.chars().count();
    text.extend(std::iter::repeat_n('\u{1D54F}', MAX_TEXT_CHARS - used));
    text
}

#[tokio::test]
async fn test_a_hostile_report_is_shown_as_text_and_its_active_files_only_as_downloads() {
    // Given a desk with a supervisor signed in, and a report written to attack it
    let desk = DeskUnderTest::start().await.unwrap();
    let browser = Browser::start(1280, 900).await.unwrap();
    let page = &browser.client;
    sign_in_first_time(page, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();
    let text = long_hostile_text();
    assert!(text.len() > 79_000, "{} bytes", text.len());
    let mut report = draft(&text);
    report.place = Some(DraftPlace::Described { text: SCRIPT.into() });
    report.people = vec![Person {
        name: Some(IMG.into()),
        description: format!("{LINK} {RLO}"),
    }];
    report.contact = Some(Contact {
        name: Some(SCRIPT.into()),
        phone: Some(RLO.into()),
        email: Some("javascript:window.__pwned=1".into()),
    });
    report.attachments = vec![
        attachment(
            "<img src=x onerror=\"window.__pwned=1\">.svg",
            "image/svg+xml",
            SVG.as_bytes(),
        ),
        attachment(
            "\"><svg onload=window.__pwned=1>.html",
            "text/html",
            HTML.as_bytes(),
        ),
        attachment("photo.gif", "image/gif", SVG.as_bytes()),
    ];
    let citizen = desk.citizen("phone").await.unwrap();
    let filed = citizen.file_report(&report).unwrap();
    assert_eq!(citizen.flush().await.unwrap().delivered, 1);
    let id = filed.report_id.to_string();
    wait_for(
        page,
        &format!("document.querySelector(\"table.inbox a[href='/reports/{id}']\")"),
        "the report in the inbox",
    )
    .await
    .unwrap();

    // When the officer opens it and the page has loaded everything it asks for
    page.goto(&desk.at(&format!("/reports/{id}"))).await.unwrap();
    wait_for(
        page,
        "document.readyState === 'complete' && document.querySelectorAll('ul.attachments li').length === 3",
        "the report page",
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Then no script of the report ran
    assert_eq!(
        js(page, "return typeof window.__pwned").await.unwrap(),
        "undefined",
        "a script of the report ran"
    );
    // And no element of it was made: the only script is the desk's own
    assert_eq!(
        js(
            page,
            "return [...document.scripts].map(s => s.getAttribute('src'))"
        )
        .await
        .unwrap(),
        serde_json::json!(["/assets/desk.js"])
    );
    let injected = js(
        page,
        "return [...document.querySelectorAll('img[src=\"x\"], [onerror], [onload], a[href^=\"javascript:\"], \
         svg, iframe, object, embed, script:not([src])')].map(e => e.outerHTML.slice(0, 80))",
    )
    .await
    .unwrap();
    assert_eq!(injected, serde_json::json!([]), "elements made from the report");

    // And every field shows its text as written, the longest one whole
    let shown = text_of(page, "section.report div.text").await.unwrap();
    assert_eq!(shown, text, "the report's text, character for character");
    let whole_page = js(page, "return document.body.textContent").await.unwrap();
    let whole_page = whole_page.as_str().unwrap();
    for written in [SCRIPT, IMG, LINK, RLO, "javascript:window.__pwned=1"] {
        assert!(whole_page.contains(written), "{written} is not shown as text");
    }

    // And the SVG, the HTML page and the SVG that says it is a GIF are only download links,
    // served as opaque bytes to save, never as something to render
    assert_eq!(
        js(
            page,
            "return document.querySelectorAll('[src*=\"/attachments/\"], [data*=\"/attachments/\"]').length"
        )
        .await
        .unwrap(),
        0,
        "an attachment is rendered inline"
    );
    for index in 0..3 {
        let link = format!("a[href='/reports/{id}/attachments/{index}/download']");
        assert_eq!(
            js(
                page,
                &format!("return document.querySelectorAll(\"{link}\").length")
            )
            .await
            .unwrap(),
            1,
            "attachment {index} has its download link"
        );
        for path in [
            format!("/reports/{id}/attachments/{index}/download"),
            format!("/reports/{id}/attachments/{index}"),
        ] {
            let headers = js(
                page,
                &format!(
                    "return fetch('{path}').then(r => [r.status, r.headers.get('content-type'), \
                     r.headers.get('content-disposition'), r.headers.get('content-security-policy'), \
                     r.headers.get('x-content-type-options')])"
                ),
            )
            .await
            .unwrap();
            let headers: (u16, String, String, String, String) = serde_json::from_value(headers).unwrap();
            assert_eq!(headers.0, 200, "{path}");
            assert_eq!(headers.1, "application/octet-stream", "{path}");
            assert!(headers.2.starts_with("attachment;"), "{path}: {}", headers.2);
            assert!(headers.3.contains("sandbox"), "{path}: {}", headers.3);
            assert_eq!(headers.4, "nosniff", "{path}");
        }
    }
    assert_eq!(
        js(page, "return typeof window.__pwned").await.unwrap(),
        "undefined",
        "a script of an attachment ran"
    );

    // And the inbox that lists it runs nothing of it either
    page.goto(desk.url()).await.unwrap();
    wait_for(page, "document.readyState === 'complete'", "the inbox")
        .await
        .unwrap();
    assert_eq!(
        js(page, "return typeof window.__pwned").await.unwrap(),
        "undefined"
    );
    browser.quit().await.unwrap();
}
