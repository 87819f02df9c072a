//! The desk's own defences: CSRF on every state-changing request, security headers on every
//! answer, nothing served to a browser that is not signed in.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tipline_desk::accounts::Role;

use crate::support::{Answer, Desktop, HOST, ORIGIN};

const HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
];

fn assert_headers(path: &str, answer: &Answer) {
    for (name, value) in HEADERS {
        let got = answer.header(name);
        if name == "content-security-policy" && path.contains("/attachments/") {
            // A reporter's file gets an even stricter policy of its own.
            assert_eq!(got, "default-src 'none'; sandbox", "{path}");
        } else {
            assert_eq!(got, value, "{name} on {path}");
        }
    }
}

#[tokio::test]
async fn test_every_answer_has_the_security_headers() {
    // Given a signed-in officer, a report with a photo, and a stranger
    let desk = Desktop::new();
    let id = desk.report_with(
        crate::support::sample("text"),
        vec![("p.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 a jpeg".to_vec())],
    );
    let mut officer = desk.signed_in("anna", Role::Officer).await;
    let mut stranger = desk.browser();
    let report = format!("/reports/{id}");
    let attachment = format!("/reports/{id}/attachments/0");
    // Then pages, fragments, assets, redirects, refusals and errors all carry them
    for path in [
        "/",
        "/inbox/rows",
        report.as_str(),
        attachment.as_str(),
        "/assets/desk.css",
        "/assets/desk.js",
        "/no/such/page",
        "/reports/not-an-id",
        "/admin/accounts",
    ] {
        let answer = officer.get(path).await;
        assert_headers(path, &answer);
    }
    for path in ["/login", "/", report.as_str(), "/assets/desk.js"] {
        let answer = stranger.get(path).await;
        assert_headers(path, &answer);
    }
    let refused = stranger.post("/reports/x/status", &[("status", "closed")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_headers("refused post", &refused);
}

#[tokio::test]
async fn test_a_state_change_without_the_csrf_token_is_refused_and_audited() {
    // Given a signed-in officer and a report
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let path = format!("/reports/{id}/status");

    // When a form comes without the token, with a wrong one, or from another origin
    let missing = browser.post(&path, &[("status", "closed")]).await;
    let wrong = browser
        .post(&path, &[("csrf", "0000"), ("status", "closed")])
        .await;
    let csrf = browser.get(&format!("/reports/{id}")).await.csrf();
    let foreign = browser
        .post_from(
            &path,
            &[("csrf", &csrf), ("status", "closed")],
            Some("http://evil.test"),
        )
        .await;
    let no_origin = browser
        .post_from(&path, &[("csrf", &csrf), ("status", "closed")], None)
        .await;

    // Then each is refused, nothing changes, and each refusal is audited
    for answer in [&missing, &wrong, &foreign, &no_origin] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        desk.state.store().report(id).unwrap().unwrap().status.name(),
        "new"
    );
    assert!(desk.audited("anna", "csrf.missing_token"));
    assert!(desk.audited("anna", "csrf.bad_token"));
    assert!(desk.audited("anna", "csrf.cross_origin"));

    // And with the token from the page, the same change goes through
    let answer = browser
        .post(&path, &[("csrf", &csrf), ("status", "closed")])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        desk.state.store().report(id).unwrap().unwrap().status.name(),
        "closed"
    );
}

#[tokio::test]
async fn test_a_form_is_judged_by_fetch_metadata_when_the_origin_is_hidden() {
    // Given a signed-in officer whose browser, under `Referrer-Policy: no-referrer`, sends
    // `Origin: null` and no Referer with a form
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let path = format!("/reports/{id}/labels");
    let csrf = browser.get(&format!("/reports/{id}")).await.csrf();
    let post = |site: Option<&str>, origin: Option<&str>, label: &str| {
        let mut request = Request::post(path.as_str())
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::COOKIE,
                format!("tipline_desk={}", browser.cookie.clone().unwrap()),
            );
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request
            .body(Body::from(format!("csrf={csrf}&label={label}")))
            .unwrap()
    };
    let same = post(Some("same-origin"), Some("null"), "same");
    let cross = post(Some("cross-site"), Some(ORIGIN), "cross");
    let unknown = post(None, Some("null"), "unknown");

    // Then the browser's own word that the form is same-origin is taken, and a form from
    // another site, or one that says nothing of where it comes from, is refused
    assert_eq!(browser.send(same).await.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.send(cross).await.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.send(unknown).await.status, StatusCode::FORBIDDEN);
    assert_eq!(desk.state.case(&id).labels, ["same"]);
}

#[tokio::test]
async fn test_a_stranger_sees_nothing_but_the_sign_in_page() {
    let desk = Desktop::new();
    let id = desk.report_with(
        crate::support::sample("secret text"),
        vec![("p.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 a jpeg".to_vec())],
    );
    let mut stranger = desk.browser();
    for path in [
        "/".to_owned(),
        format!("/reports/{id}"),
        format!("/reports/{id}/live"),
        format!("/reports/{id}/attachments/0"),
        "/admin/audit".to_owned(),
        "/admin/audit.csv".to_owned(),
    ] {
        let answer = stranger.get(&path).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.location(), "/login");
        assert!(!answer.body.contains("secret text"));
    }
    assert_eq!(stranger.get("/events").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn test_no_inline_script_or_style_in_any_page() {
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut browser = desk.signed_in("sara", Role::Supervisor).await;
    for path in [
        "/".to_owned(),
        format!("/reports/{id}"),
        "/admin/accounts".to_owned(),
        "/admin/audit".to_owned(),
    ] {
        let page = browser.get(&path).await.body;
        assert!(page.contains("<script src=\"/assets/desk.js\" defer></script>"));
        assert_eq!(page.matches("<script").count(), 1, "{path}");
        assert!(!page.contains("<style") && !page.contains(" style="), "{path}");
        assert!(!has_event_handler(&page), "{path}");
    }
}

/// Whether a tag in `html` has an event handler attribute such as `onclick=` (outside quoted
/// attribute values, where escaped report text may say anything).
pub fn has_event_handler(html: &str) -> bool {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(start) = html[i..].find('<').map(|p| p + i) {
        let mut j = start + 1;
        let mut quote = None;
        while j < bytes.len() {
            let c = bytes[j];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if c == b'>' => break,
                None if c.is_ascii_whitespace() => {
                    let rest = &html[j + 1..];
                    let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                    if name > 2 && rest[..2].eq_ignore_ascii_case("on") && rest[name..].starts_with('=') {
                        return true;
                    }
                }
                None => {}
            }
            j += 1;
        }
        i = j;
    }
    false
}

#[test]
fn test_event_handler_detection() {
    assert!(has_event_handler("<img src=x onerror=alert(1)>"));
    assert!(has_event_handler("<b onMouseOver=x>"));
    assert!(!has_event_handler(
        "<img alt=\"&lt;img src=x onerror=alert(1)&gt;\">"
    ));
    assert!(!has_event_handler("<p>&lt;img onerror=alert(1)&gt;</p>"));
}
