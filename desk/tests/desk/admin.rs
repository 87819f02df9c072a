//! The supervisors' pages: accounts and the audit log, refused to officers.

use axum::http::StatusCode;
use tipline_desk::accounts::Role;
use tipline_desk::audit::AuditEntry;

use crate::support::{Desktop, PASSWORD};

#[tokio::test]
async fn test_an_officer_is_refused_supervisor_actions_and_the_refusal_is_audited() {
    let desk = Desktop::new();
    desk.account("bo", Role::Officer, true);
    let mut officer = desk.signed_in("anna", Role::Officer).await;
    for path in [
        "/admin/accounts",
        "/admin/audit",
        "/admin/audit.json",
        "/admin/audit.csv",
    ] {
        assert_eq!(officer.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let add = officer
        .submit(
            "/",
            "/admin/accounts",
            &[
                ("name", "mallory"),
                ("role", "supervisor"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);
    let disable = officer.submit("/", "/admin/accounts/bo/disable", &[]).await;
    assert_eq!(disable.status, StatusCode::FORBIDDEN);
    assert!(desk.state.account("mallory").is_none());
    assert!(!desk.state.account("bo").unwrap().disabled);
    assert!(desk.audited("anna", "denied.supervisor_only"));
    // And an officer's pages do not link to the supervisors'
    assert!(!officer.get("/").await.body.contains("/admin/"));
}

#[tokio::test]
async fn test_a_supervisor_adds_an_officer_and_disables_an_account_ending_its_sessions() {
    // Given a supervisor, and an officer signed in elsewhere
    let desk = Desktop::new();
    let mut sara = desk.signed_in("sara", Role::Supervisor).await;
    let mut bo = desk.signed_in("bo", Role::Officer).await;
    assert_eq!(bo.get("/").await.status, StatusCode::OK);

    // When the supervisor adds an officer
    let answer = sara
        .submit(
            "/admin/accounts",
            "/admin/accounts",
            &[("name", "carl"), ("role", "officer"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let short = sara
        .submit(
            "/admin/accounts",
            "/admin/accounts",
            &[("name", "dan"), ("role", "officer"), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);

    // Then the account exists, without a second factor until its first sign-in
    let carl = desk.state.account("carl").unwrap();
    assert_eq!(carl.role, Role::Officer);
    assert!(carl.totp_secret.is_none());
    assert!(sara.get("/admin/accounts").await.body.contains("<bdi>carl</bdi>"));

    // When the supervisor disables bo
    let answer = sara
        .submit("/admin/accounts", "/admin/accounts/bo/disable", &[])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);

    // Then bo's open session ends at once, and bo cannot sign in again
    assert_eq!(bo.get("/").await.location(), "/login");
    let again = bo
        .submit("/login", "/login", &[("name", "bo"), ("password", PASSWORD)])
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(desk.audited("bo", "login.disabled"));
    assert!(desk.audited("sara", "account.add"));
    assert!(desk.audited("sara", "account.disable"));
    // And a supervisor cannot lock themselves out
    let own = sara
        .submit("/admin/accounts", "/admin/accounts/sara/disable", &[])
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn test_the_audit_log_is_shown_and_exported_as_json_and_csv() {
    let desk = Desktop::new();
    let mut sara = desk.signed_in("sara", Role::Supervisor).await;
    let mut stranger = desk.browser();
    stranger
        .submit(
            "/login",
            "/login",
            &[("name", "sara"), ("password", "guessing, guessing")],
        )
        .await;

    let page = sara.get("/admin/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<code>login.bad_password</code>"));
    assert!(page.body.contains("<code>login.ok</code>"));

    let json = sara.get("/admin/audit.json").await;
    assert_eq!(json.header("content-type"), "application/json");
    assert!(json.header("content-disposition").starts_with("attachment;"));
    let entries: Vec<AuditEntry> = serde_json::from_slice(&json.bytes).unwrap();
    assert!(entries
        .iter()
        .any(|e| e.action == "login.bad_password" && e.actor.as_deref() == Some("sara")));
    assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));

    let csv = sara.get("/admin/audit.csv").await;
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv.body.starts_with("seq,at,actor,action,target,detail\r\n"));
    assert!(csv.body.contains(",sara,login.bad_password,"));
    assert!(!csv.body.contains("guessing") && !json.body.contains("guessing"));
    assert!(desk.audited("sara", "audit.export"));
}

#[tokio::test]
async fn test_a_supervisor_publishes_an_alert_checked_before_it_leaves() {
    let desk = Desktop::new();
    let mut sara = desk.signed_in("sara", Role::Supervisor).await;
    let mut anna = desk.signed_in("anna", Role::Officer).await;
    let page = sara.get("/admin/alerts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"title_ar\""));

    // A title without its text, a bad severity or expiry: refused before anything is signed
    for fields in [
        vec![
            ("regions", "DK-84"),
            ("severity", "info"),
            ("hours", "24"),
            ("title_da", "Pas på"),
        ],
        vec![
            ("regions", "DK-84"),
            ("severity", "panic"),
            ("hours", "24"),
            ("title_da", "a"),
            ("body_da", "b"),
        ],
        vec![
            ("regions", "DK-84"),
            ("severity", "info"),
            ("hours", "0"),
            ("title_da", "a"),
            ("body_da", "b"),
        ],
        vec![
            ("regions", ""),
            ("severity", "info"),
            ("hours", "24"),
            ("title_da", "a"),
            ("body_da", "b"),
        ],
    ] {
        let answer = sara.submit("/admin/alerts", "/admin/alerts", &fields).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{fields:?}: {}",
            answer.body
        );
    }
    assert!(!desk.audited("sara", "alert.publish"));

    // A good alert is signed and sent; here no intake answers, which the supervisor is told
    let good = [
        ("regions", "DK-84, dk-85"),
        ("severity", "warning"),
        ("hours", "24"),
        ("title_da", "Pas på"),
        ("body_da", "Hvervning ved stationen"),
        ("title_ar", "انتبه"),
        ("body_ar", "تجنيد قرب المحطة"),
    ];
    let answer = sara.submit("/admin/alerts", "/admin/alerts", &good).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(answer.body.contains("intake server could not be reached"));
    let entry = desk
        .audit()
        .into_iter()
        .find(|e| e.action == "alert.publish")
        .unwrap();
    assert_eq!(entry.detail.as_deref(), Some("DK-84 DK-85"));

    // And an officer may not
    assert_eq!(anna.get("/admin/alerts").await.status, StatusCode::FORBIDDEN);
    let answer = anna.submit("/", "/admin/alerts", &good).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn test_a_supervisor_resets_a_lost_second_factor() {
    // Given an officer signed in, whose phone is lost
    let desk = Desktop::new();
    let mut sara = desk.signed_in("sara", Role::Supervisor).await;
    let mut bo = desk.signed_in("bo", Role::Officer).await;

    // When the supervisor resets bo's second factor
    let answer = sara
        .submit("/admin/accounts", "/admin/accounts/bo/reset-totp", &[])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);

    // Then bo's sessions end, and bo enrols a new factor after the password at the next sign-in
    assert_eq!(bo.get("/").await.location(), "/login");
    assert!(desk.state.account("bo").unwrap().totp_secret.is_none());
    bo.submit("/login", "/login", &[("name", "bo"), ("password", PASSWORD)])
        .await;
    assert!(bo.get("/login").await.body.contains("action=\"/login/enroll\""));
    assert!(desk.audited("sara", "account.reset_totp"));
    // And an officer cannot do it
    let mut carl = desk.signed_in("carl", Role::Officer).await;
    let answer = carl.submit("/", "/admin/accounts/sara/reset-totp", &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(desk.state.account("sara").unwrap().totp_secret.is_some());
}

#[tokio::test]
async fn test_an_officer_changes_their_password_and_other_sessions_end() {
    // Given an officer signed in on two computers
    let desk = Desktop::new();
    let secret = desk.account("anna", Role::Officer, true).unwrap();
    let mut here = desk.browser();
    here.sign_in("anna", PASSWORD, &secret, &desk.clock).await;
    desk.clock.advance(30);
    let mut there = desk.browser();
    there.sign_in("anna", PASSWORD, &secret, &desk.clock).await;
    let new = "another long password";

    // A wrong current password, or two different new ones, change nothing
    let wrong = here
        .submit(
            "/profile",
            "/profile",
            &[("current", "not it at all"), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(desk.audited("anna", "password.bad_current"));
    let differ = here
        .submit(
            "/profile",
            "/profile",
            &[("current", PASSWORD), ("new", new), ("repeat", "something else!")],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);

    // When the password is changed here
    let answer = here
        .submit(
            "/profile",
            "/profile",
            &[("current", PASSWORD), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.contains("Your password was changed"));

    // Then this browser stays signed in, the other one is signed out, and only the new
    // password opens the account
    assert_eq!(here.get("/").await.status, StatusCode::OK);
    assert_eq!(there.get("/").await.location(), "/login");
    let hash = desk.state.account("anna").unwrap().password_hash;
    assert!(tipline_desk::auth::password::verify(new, &hash));
    assert!(!tipline_desk::auth::password::verify(PASSWORD, &hash));
    assert!(desk.audited("anna", "password.changed"));
}

#[tokio::test]
async fn test_the_audit_page_shows_the_newest_entries_and_pages_back_to_the_oldest() {
    // Given a log longer than a page
    let desk = Desktop::new();
    let mut sara = desk.signed_in("sara", Role::Supervisor).await;
    let entries: Vec<AuditEntry> = (0..450)
        .map(|i| AuditEntry::now(Some("bo"), "report.opened").detail(format!("n{i:03}")))
        .collect();
    desk.state.audit_all(&entries);

    // When a supervisor reads it, then follows the link to older entries until there is none
    let mut path = "/admin/audit".to_owned();
    let mut pages = Vec::new();
    loop {
        let page = sara.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        let next = page
            .body
            .split("href=\"/admin/audit?before=")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|seq| format!("/admin/audit?before={seq}"));
        pages.push(page.body);
        match next {
            Some(next) => path = next,
            None => break,
        }
        assert!(pages.len() < 10, "the pages do not end");
    }

    // Then the first page holds the newest 200, newest first, and every entry is on exactly
    // one page
    assert_eq!(pages.len(), 3);
    let first = &pages[0];
    assert!(first.find("n449").unwrap() < first.find("n448").unwrap());
    assert!(first.contains("n250") && !first.contains("n249"));
    for i in 0..450 {
        let shown = pages.iter().filter(|p| p.contains(&format!("n{i:03}<"))).count();
        assert_eq!(shown, 1, "entry n{i:03}");
    }
}
