//! Signing in: password then TOTP, enrolment at first sign-in, failures and replays refused and
//! audited, sessions that expire, signing out.

use axum::http::StatusCode;
use tipline_desk::accounts::Role;
use tipline_desk::auth::totp::{Secret, STEP};

use crate::support::{Desktop, PASSWORD};

#[tokio::test]
async fn test_password_then_totp_signs_in_and_is_audited() {
    // Given an enrolled officer
    let desk = Desktop::new();
    let secret = desk.account("anna", Role::Officer, true).unwrap();
    let mut browser = desk.browser();

    // When they give their password
    let answer = browser
        .submit("/login", "/login", &[("name", "anna"), ("password", PASSWORD)])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    // Then the inbox is still closed and the page asks for the code
    assert_eq!(browser.get("/").await.location(), "/login");
    let page = browser.get("/login").await;
    assert!(page.body.contains("action=\"/login/totp\""));
    let before = browser.cookie.clone();

    // When they give the current code
    let code = secret.code_at(u64::try_from(desk.clock.now()).unwrap());
    let answer = browser.submit("/login", "/login/totp", &[("code", &code)]).await;

    // Then they are signed in under a new session id, and the inbox opens
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_ne!(browser.cookie, before);
    let cookie = answer.header("set-cookie");
    for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let inbox = browser.get("/").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.body.contains("anna"));
    assert!(desk.audited("anna", "login.password_ok"));
    assert!(desk.audited("anna", "login.ok"));
    // And neither the password nor the code is in the audit log
    let log = serde_json::to_string(&desk.audit()).unwrap();
    assert!(!log.contains(PASSWORD) && !log.contains(&code));
}

#[tokio::test]
async fn test_wrong_password_and_wrong_code_are_refused_and_audited() {
    let desk = Desktop::new();
    let secret = desk.account("anna", Role::Officer, true).unwrap();
    let mut browser = desk.browser();

    let answer = browser
        .submit(
            "/login",
            "/login",
            &[("name", "anna"), ("password", "not the password")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body.contains("Wrong name or password"));
    assert!(desk.audited("anna", "login.bad_password"));

    let answer = browser
        .submit("/login", "/login", &[("name", "nobody"), ("password", PASSWORD)])
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(desk.audited("nobody", "login.unknown_account"));

    browser
        .submit("/login", "/login", &[("name", "anna"), ("password", PASSWORD)])
        .await;
    let now = u64::try_from(desk.clock.now()).unwrap();
    let wrong = secret.code_at(now + 10 * STEP);
    let answer = browser.submit("/login", "/login/totp", &[("code", &wrong)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(desk.audited("anna", "login.bad_totp"));
    assert_eq!(browser.get("/").await.location(), "/login");
}

#[tokio::test]
async fn test_a_used_code_cannot_be_replayed() {
    // Given an officer who signed in with a code and signed out
    let desk = Desktop::new();
    let secret = desk.account("anna", Role::Officer, true).unwrap();
    let mut first = desk.browser();
    first.sign_in("anna", PASSWORD, &secret, &desk.clock).await;
    let code = secret.code_at(u64::try_from(desk.clock.now()).unwrap());

    // When someone who saw the password and the code tries them within the same window
    desk.clock.advance(5);
    let mut second = desk.browser();
    second
        .submit("/login", "/login", &[("name", "anna"), ("password", PASSWORD)])
        .await;
    let answer = second.submit("/login", "/login/totp", &[("code", &code)]).await;

    // Then the code is refused, and the refusal is audited as a replay
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(desk.audited("anna", "login.replayed_totp"));
    assert_eq!(second.get("/").await.location(), "/login");
    // And the next code works
    desk.clock.advance(i64::try_from(STEP).unwrap());
    let next = secret.code_at(u64::try_from(desk.clock.now()).unwrap());
    let answer = second.submit("/login", "/login/totp", &[("code", &next)]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn test_first_sign_in_enrolls_totp_with_a_qr_code_drawn_by_the_desk() {
    // Given an account without a second factor
    let desk = Desktop::new();
    desk.account("bo", Role::Officer, false);
    let mut browser = desk.browser();

    // When it gives its password
    browser
        .submit("/login", "/login", &[("name", "bo"), ("password", PASSWORD)])
        .await;

    // Then the page shows a QR code from the desk and the secret as text
    let page = browser.get("/login").await;
    assert!(page.body.contains("src=\"/login/qr.svg\""), "{}", page.body);
    let at = page.body.find("<code class=\"secret\" dir=\"ltr\">").unwrap();
    let rest = &page.body[at + "<code class=\"secret\" dir=\"ltr\">".len()..];
    let secret = Secret::from_base32(&rest[..rest.find('<').unwrap()]).unwrap();
    let qr = browser.get("/login/qr.svg").await;
    assert_eq!(qr.status, StatusCode::OK);
    assert_eq!(qr.header("content-type"), "image/svg+xml");
    assert!(qr.body.contains("<svg"));
    // Only the enrolling session gets it
    assert_eq!(
        desk.browser().get("/login/qr.svg").await.status,
        StatusCode::NOT_FOUND
    );

    // When it confirms with a code of the app
    let code = secret.code_at(u64::try_from(desk.clock.now()).unwrap());
    let answer = browser
        .submit("/login", "/login/enroll", &[("code", &code)])
        .await;

    // Then it is signed in, the secret is kept, and the enrolment is audited
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/").await.status, StatusCode::OK);
    let stored = desk.state.account("bo").unwrap().totp_secret.unwrap();
    assert_eq!(Secret::from_base32(&stored).unwrap().hotp(1), secret.hotp(1));
    assert!(desk.audited("bo", "totp.enrolled"));
}

#[tokio::test]
async fn test_a_session_expires_when_idle_and_the_expiry_is_audited() {
    let desk = Desktop::new();
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    // Used within 30 minutes: still open
    desk.clock.advance(29 * 60);
    assert_eq!(browser.get("/").await.status, StatusCode::OK);
    // Left alone longer: gone
    desk.clock.advance(31 * 60);
    let answer = browser.get("/").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/login");
    assert!(desk.audited("anna", "session.expired"));
}

#[tokio::test]
async fn test_a_session_ends_after_twelve_hours_however_busy() {
    let desk = Desktop::new();
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    for _ in 0..25 {
        desk.clock.advance(29 * 60);
        browser.get("/").await;
    }
    assert_eq!(browser.get("/").await.location(), "/login");
}

#[tokio::test]
async fn test_signing_out_ends_the_session() {
    let desk = Desktop::new();
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let cookie = browser.cookie.clone();
    let answer = browser.submit("/", "/logout", &[]).await;
    assert_eq!(answer.location(), "/login");
    browser.cookie = cookie;
    assert_eq!(browser.get("/").await.location(), "/login");
    assert!(desk.audited("anna", "logout"));
}

#[tokio::test]
async fn test_repeated_failures_lock_the_account_for_a_while() {
    let desk = Desktop::new();
    let secret = desk.account("anna", Role::Officer, true).unwrap();
    let mut browser = desk.browser();
    for _ in 0..5 {
        browser
            .submit(
                "/login",
                "/login",
                &[("name", "anna"), ("password", "wrong password!")],
            )
            .await;
    }
    // Even the right password is refused now
    let answer = browser
        .submit("/login", "/login", &[("name", "anna"), ("password", PASSWORD)])
        .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(desk.audited("anna", "login.rate_limited"));
    // Later it works again
    desk.clock.advance(16 * 60);
    browser.sign_in("anna", PASSWORD, &secret, &desk.clock).await;
}

#[tokio::test]
async fn test_refreshes_by_the_page_script_do_not_keep_an_idle_session_open() {
    // Given an officer whose inbox page refreshes itself on change notices
    let desk = Desktop::new();
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let fragment = |browser: &crate::support::Browser| {
        axum::http::Request::get("/inbox/rows")
            .header("host", crate::support::HOST)
            .header("x-desk-fragment", "1")
            .header(
                "cookie",
                format!("tipline_desk={}", browser.cookie.clone().unwrap()),
            )
            .body(axum::body::Body::empty())
            .unwrap()
    };
    // When only the script asks, every 20 minutes
    desk.clock.advance(20 * 60);
    let request = fragment(&browser);
    assert_eq!(browser.send(request).await.status, StatusCode::OK);
    desk.clock.advance(20 * 60);
    let request = fragment(&browser);
    // Then the session expires 30 minutes after the officer's last own request
    assert_eq!(browser.send(request).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.get("/").await.location(), "/login");
}

#[tokio::test]
async fn test_a_sign_in_can_start_again_after_the_password_step() {
    let desk = Desktop::new();
    desk.account("anna", Role::Officer, true);
    let mut browser = desk.browser();
    browser
        .submit("/login", "/login", &[("name", "anna"), ("password", PASSWORD)])
        .await;
    assert!(browser
        .get("/login")
        .await
        .body
        .contains("action=\"/login/totp\""));
    let answer = browser.submit("/login", "/login/restart", &[]).await;
    assert_eq!(answer.location(), "/login");
    assert!(browser.get("/login").await.body.contains("action=\"/login\""));
}

/// The enrolment secret a browser at the enrolment step is shown.
async fn enrolment_secret(browser: &mut crate::support::Browser) -> Secret {
    let page = browser.get("/login").await;
    let at = page.body.find("<code class=\"secret\" dir=\"ltr\">").unwrap();
    let rest = &page.body[at + "<code class=\"secret\" dir=\"ltr\">".len()..];
    Secret::from_base32(&rest[..rest.find('<').unwrap()]).unwrap()
}

#[tokio::test]
async fn test_an_enrolment_begun_by_someone_else_cannot_replace_the_officers_own() {
    // Given someone who knows a new officer's first password and reached the enrolment step
    let desk = Desktop::new();
    desk.account("bo", Role::Officer, false);
    let mut intruder = desk.browser();
    intruder
        .submit("/login", "/login", &[("name", "bo"), ("password", PASSWORD)])
        .await;
    let intruders = enrolment_secret(&mut intruder).await;
    // and the officer, who then enrols
    let mut bo = desk.browser();
    bo.submit("/login", "/login", &[("name", "bo"), ("password", PASSWORD)])
        .await;
    let own = enrolment_secret(&mut bo).await;
    let now = u64::try_from(desk.clock.now()).unwrap();
    let answer = bo
        .submit("/login", "/login/enroll", &[("code", &own.code_at(now))])
        .await;
    assert_eq!(answer.location(), "/");

    // When the intruder confirms their own secret afterwards
    let answer = intruder
        .submit("/login", "/login/enroll", &[("code", &intruders.code_at(now))])
        .await;

    // Then they are not signed in, the officer's secret stands, and the officer stays in
    assert_ne!(answer.location(), "/");
    assert_eq!(intruder.get("/").await.location(), "/login");
    let stored = desk.state.account("bo").unwrap().totp_secret.unwrap();
    assert_eq!(Secret::from_base32(&stored).unwrap().hotp(7), own.hotp(7));
    assert_eq!(bo.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn test_the_session_id_changes_after_the_password() {
    // Given a browser at the sign-in page, its session id known to someone else
    let desk = Desktop::new();
    desk.account("anna", Role::Officer, true);
    let mut browser = desk.browser();
    browser.get("/login").await;
    let planted = browser.cookie.clone().unwrap();

    // When the password is right
    browser
        .submit("/login", "/login", &[("name", "anna"), ("password", PASSWORD)])
        .await;

    // Then the next step goes on under a new id, and the old one is at the first step
    assert_ne!(browser.cookie.as_deref(), Some(planted.as_str()));
    assert!(browser
        .get("/login")
        .await
        .body
        .contains("action=\"/login/totp\""));
    let mut other = desk.browser();
    other.cookie = Some(planted);
    let page = other.get("/login").await;
    assert!(!page.body.contains("action=\"/login/totp\""), "{}", page.body);
}

#[tokio::test]
async fn test_a_name_no_account_could_have_is_refused_without_filling_the_log() {
    let desk = Desktop::new();
    let mut browser = desk.browser();
    let name = "x".repeat(200_000);
    let answer = browser
        .submit("/login", "/login", &[("name", &name), ("password", PASSWORD)])
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let log = desk.audit();
    let entry = log.iter().find(|e| e.action == "login.unknown_account").unwrap();
    assert_eq!(entry.actor, None);
    assert!(serde_json::to_string(&log).unwrap().len() < 10_000);
}

#[tokio::test]
async fn test_a_flood_of_refused_requests_is_counted_not_written_one_by_one() {
    use tipline_desk::audit::{REFUSALS_NOT_WRITTEN, REFUSALS_WRITTEN, REFUSAL_WINDOW};
    // Given a stranger posting forms with no session, many times a second
    let desk = Desktop::new();
    let mut stranger = desk.browser();
    for _ in 0..300 {
        stranger.cookie = None;
        let answer = stranger.post("/reports/x/notes", &[("text", "x")]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    }
    // Then only the bound's worth are written one by one
    let written = |desk: &Desktop| {
        desk.audit()
            .iter()
            .filter(|e| e.action == "csrf.no_session")
            .count()
    };
    assert_eq!(written(&desk), REFUSALS_WRITTEN);
    // And once the minute is over, the next entry brings the count of the rest
    desk.clock.advance(REFUSAL_WINDOW);
    stranger.cookie = None;
    stranger.post("/reports/x/notes", &[("text", "x")]).await;
    let log = desk.audit();
    let count = log.iter().find(|e| e.action == REFUSALS_NOT_WRITTEN).unwrap();
    assert_eq!(count.detail.as_deref(), Some("240"));
    assert_eq!(written(&desk), REFUSALS_WRITTEN + 1);
}
