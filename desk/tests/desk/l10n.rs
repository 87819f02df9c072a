//! Every page in Spanish, Danish, English and Arabic; Arabic right to left.

use axum::http::StatusCode;
use tipline_desk::accounts::Role;

use crate::support::{sample, Desktop};

#[tokio::test]
async fn test_each_language_renders_and_arabic_runs_right_to_left() {
    let desk = Desktop::new();
    let id = desk.report("text");
    for (lang, dir, sign_in, inbox) in [
        ("en", "ltr", "Sign in", "Inbox"),
        ("es", "ltr", "Iniciar sesión", "Bandeja de entrada"),
        ("da", "ltr", "Log ind", "Indbakke"),
        ("ar", "rtl", "تسجيل الدخول", "صندوق الوارد"),
    ] {
        // The sign-in page, by ?lang=
        let mut stranger = desk.browser();
        let page = stranger.get(&format!("/login?lang={lang}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body
                .contains(&format!("<html lang=\"{lang}\" dir=\"{dir}\">")),
            "{lang}"
        );
        assert!(page.body.contains(sign_in), "{lang}");
        assert!(
            page.header("set-cookie")
                .contains(&format!("tipline_desk_lang={lang}"))
                || {
                    // Set-Cookie may carry the session first; look at every one.
                    page.headers.get_all("set-cookie").iter().any(|v| {
                        v.to_str()
                            .unwrap()
                            .starts_with(&format!("tipline_desk_lang={lang}"))
                    })
                }
        );

        // Signed-in pages, with the choice kept on the account
        let name = format!("officer-{lang}");
        let mut officer = desk.signed_in(&name, Role::Supervisor).await;
        let page = officer.get(&format!("/?lang={lang}")).await;
        assert!(
            page.body
                .contains(&format!("<html lang=\"{lang}\" dir=\"{dir}\">")),
            "{lang}"
        );
        assert!(page.body.contains(inbox), "{lang}");
        assert_eq!(desk.state.account(&name).unwrap().language, lang);
        for path in [
            format!("/reports/{id}"),
            "/admin/accounts".into(),
            "/admin/alerts".into(),
            "/profile".into(),
            "/admin/audit".into(),
        ] {
            let page = officer.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            assert!(
                page.body
                    .contains(&format!("<html lang=\"{lang}\" dir=\"{dir}\">")),
                "{lang} {path}"
            );
        }
    }
}

#[tokio::test]
async fn test_the_browser_language_is_used_before_a_choice() {
    let desk = Desktop::new();
    let mut browser = desk.browser();
    let request = axum::http::Request::get("/login")
        .header("host", crate::support::HOST)
        .header("accept-language", "da-DK,da;q=0.9,en;q=0.8")
        .body(axum::body::Body::empty())
        .unwrap();
    let page = browser.send(request).await;
    assert!(page.body.contains("<html lang=\"da\" dir=\"ltr\">"));
}

#[tokio::test]
async fn test_errors_are_pages_in_the_officers_language() {
    // Given an officer who reads Spanish
    let desk = Desktop::new();
    let mut browser = desk.signed_in("ana", Role::Officer).await;
    browser.get("/?lang=es").await;

    // When they open a report that is not there, or a supervisor's page
    let missing = browser.get("/reports/00000000000000000000000000000000").await;
    let forbidden = browser.get("/admin/audit").await;

    // Then each is a page in Spanish, with its status
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("<html lang=\"es\" dir=\"ltr\">"));
    assert!(missing.body.contains("<h1>No encontrado</h1>"));
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(forbidden.body.contains("<h1>No permitido</h1>"));
    // A form without its token is refused with a page too
    let mut stranger = desk.browser();
    stranger.get("/login").await;
    let refused = stranger.post("/login", &[("name", "x"), ("password", "y")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("<h1>Not allowed</h1>"));
    // And a page's script gets the plain answer
    let request = axum::http::Request::get("/reports/00000000000000000000000000000000")
        .header("host", crate::support::HOST)
        .header("x-desk-fragment", "1")
        .header(
            "cookie",
            format!("tipline_desk={}", browser.cookie.clone().unwrap()),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let plain = browser.send(request).await;
    assert_eq!(plain.status, StatusCode::NOT_FOUND);
    assert!(plain.header("content-type").starts_with("text/plain"));
}

#[tokio::test]
async fn test_categories_are_shown_by_their_label_in_the_officers_language() {
    // Given the directory's labels of two categories (one without Spanish, one not in it at
    // all) and a report in each of three categories
    let desk = Desktop::new();
    let labels = |pairs: &[(&str, &str)]| -> tipline_core::directory::LocalisedText {
        pairs
            .iter()
            .map(|(l, t)| ((*l).to_owned(), (*t).to_owned()))
            .collect()
    };
    desk.state.categories.set(&[
        tipline_core::directory::Category {
            id: "radicalisation".into(),
            labels: labels(&[
                ("en", "Radicalisation"),
                ("da", "Radikalisering"),
                ("ar", "التطرف"),
            ]),
        },
        tipline_core::directory::Category {
            id: "hate-crime".into(),
            labels: labels(&[("en", "Hate crime"), ("da", "Hadforbrydelse")]),
        },
    ]);
    let mut ids = Vec::new();
    for category in ["radicalisation", "hate-crime", "travel"] {
        let mut report = sample("Labels");
        report.category = category.into();
        ids.push(desk.report_with(report, vec![]));
    }

    for (lang, radicalisation, hate_crime) in [
        ("da", "Radikalisering", "Hadforbrydelse"),
        ("ar", "التطرف", "Hate crime"),
        ("es", "Radicalisation", "Hate crime"),
    ] {
        // When an officer reads the inbox, its filter and a report in their language
        let mut officer = desk.signed_in(&format!("officer-{lang}"), Role::Officer).await;
        let inbox = officer.get(&format!("/?lang={lang}")).await.body;
        let page = officer.get(&format!("/reports/{}", ids[0])).await.body;
        let filtered = officer.get("/?category=hate-crime").await.body;

        // Then each category reads as its label there, else in English, else as its id
        for (id, label) in [
            ("radicalisation", radicalisation),
            ("hate-crime", hate_crime),
            ("travel", "travel"),
        ] {
            assert!(
                inbox.contains(&format!("<td><bdi>{label}</bdi></td>")),
                "{lang} {id} row"
            );
            assert!(
                inbox.contains(&format!("<option value=\"{id}\">{label}</option>")),
                "{lang} {id} filter: {inbox}"
            );
        }
        assert!(
            page.contains(&format!("<dd><bdi>{radicalisation}</bdi></dd>")),
            "{lang}"
        );
        // and the filter still selects by id.
        assert!(filtered.contains(&format!(
            "<option value=\"hate-crime\" selected>{hate_crime}</option>"
        )));
        assert!(filtered.contains(&ids[1].to_string()) && !filtered.contains(&ids[0].to_string()));
    }
}
