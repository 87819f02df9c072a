//! What the desk refuses, seen from a browser: a wrong password, a wrong TOTP code and one used
//! already, a state change without the session's CSRF token or with another one, and an officer
//! opening a supervisor's page. Each is refused, and each attempt is in the audit log.

use fantoccini::Client;

use crate::desk::{
    add_officer, audit_page, code_now, enrolment_secret, enter_password, js, logged, sign_in_first_time,
    sign_out, submit_form, text_of, wait_for, DeskUnderTest, PASSWORD, SUPERVISOR,
};
use crate::driver::Browser;

const OFFICER: &str = "omar";

/// The answer to a form the page's own script posts to `path` with `fields`: its status and
/// where it ended.
async fn post_from_page(page: &Client, path: &str, fields: &str) -> (u64, String) {
    let answer = js(
        page,
        &format!(
            "return fetch('{path}', {{ method: 'POST', credentials: 'same-origin', \
             headers: {{ 'Content-Type': 'application/x-www-form-urlencoded' }}, body: '{fields}' }})\
             .then(r => [r.status, new URL(r.url).pathname])"
        ),
    )
    .await
    .unwrap();
    serde_json::from_value(answer).unwrap()
}

#[tokio::test]
async fn test_wrong_credentials_forged_requests_and_supervisor_pages_are_refused_and_audited() {
    // Given a desk whose supervisor added an officer
    let desk = DeskUnderTest::start().await.unwrap();
    let (supervisor, officer) =
        tokio::try_join!(Browser::start(1024, 768), Browser::start(1024, 768)).unwrap();
    let (sup, off) = (&supervisor.client, &officer.client);
    sign_in_first_time(sup, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();
    add_officer(sup, &desk, OFFICER).await.unwrap();

    // When the officer gives a wrong password
    enter_password(off, &desk, OFFICER, "not the password at all")
        .await
        .unwrap();
    // Then the sign-in page says so and asks for the password again
    wait_for(off, "document.querySelector('p.error')", "the refusal")
        .await
        .unwrap();
    assert_eq!(text_of(off, "p.error").await.unwrap(), "Wrong name or password.");
    assert_eq!(
        js(off, "return !!document.querySelector('input[name=password]') && !document.querySelector('code.secret')")
            .await
            .unwrap(),
        true,
        "still at the password step"
    );

    // When the officer gives the right password and then a wrong code at enrolment
    enter_password(off, &desk, OFFICER, PASSWORD).await.unwrap();
    let secret = enrolment_secret(off).await.unwrap();
    let right = code_now(&secret);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    submit_form(off, "form[action=\"/login/enroll\"]", &[("code", &wrong)])
        .await
        .unwrap();
    // Then it is refused, and the enrolment goes on with the same secret
    wait_for(
        off,
        "document.querySelector('p.error')",
        "the refusal of the code",
    )
    .await
    .unwrap();
    assert!(text_of(off, "p.error")
        .await
        .unwrap()
        .starts_with("That code is wrong"));
    assert_eq!(
        enrolment_secret(off).await.unwrap().to_base32(),
        secret.to_base32()
    );
    let enrolled_with = code_now(&secret);
    submit_form(off, "form[action=\"/login/enroll\"]", &[("code", &enrolled_with)])
        .await
        .unwrap();
    wait_for(
        off,
        "location.pathname === '/' && document.querySelector('a.who')",
        "signed in",
    )
    .await
    .unwrap();

    // When the officer's page posts state changes without the CSRF token (signing out, adding
    // an account), and with a token that is not the session's
    let without = post_from_page(off, "/logout", "").await;
    let mallory = "name=mallory&role=supervisor&password=mallory-password-1234";
    let forged = post_from_page(off, "/logout", "csrf=AAAAAAAAAAAAAAAAAAAAAA").await;
    let account = post_from_page(off, "/admin/accounts", mallory).await;
    // Then each is refused before it reaches the view: the officer is still signed in
    assert_eq!(without, (403, "/logout".to_owned()));
    assert_eq!(forged, (403, "/logout".to_owned()));
    assert_eq!(account.0, 403);
    let still = js(off, "return fetch('/').then(r => new URL(r.url).pathname)")
        .await
        .unwrap();
    assert_eq!(still, "/", "the officer's session survived the forged requests");

    // When the officer opens the supervisor's pages
    off.goto(&desk.at("/admin/audit")).await.unwrap();
    // Then they are refused
    wait_for(off, "document.readyState === 'complete'", "the answer")
        .await
        .unwrap();
    assert_eq!(text_of(off, "h1").await.unwrap(), "Not allowed");
    assert_eq!(
        js(off, "return document.querySelectorAll('table.audit').length")
            .await
            .unwrap(),
        0
    );
    let accounts = js(off, "return fetch('/admin/accounts').then(r => r.status)")
        .await
        .unwrap();
    assert_eq!(accounts, 403);

    // When the officer signs out and in again with the code used at enrolment (a replay: it is
    // still within the steps a code is accepted for)
    off.goto(desk.url()).await.unwrap();
    sign_out(off).await.unwrap();
    enter_password(off, &desk, OFFICER, PASSWORD).await.unwrap();
    wait_for(
        off,
        "document.querySelector('form[action=\"/login/totp\"]')",
        "the code step",
    )
    .await
    .unwrap();
    submit_form(off, "form[action=\"/login/totp\"]", &[("code", &enrolled_with)])
        .await
        .unwrap();
    // Then it is refused
    wait_for(
        off,
        "document.querySelector('p.error') || location.pathname === '/'",
        "the answer to a used code",
    )
    .await
    .unwrap();
    assert_eq!(
        js(off, "return location.pathname").await.unwrap(),
        "/login/totp",
        "not signed in"
    );

    // And the supervisor's audit page holds every attempt, none of them carrying a password
    // or a code
    let log = audit_page(sup, &desk).await.unwrap();
    for action in [
        "login.bad_password",
        "login.bad_totp",
        "csrf.missing_token",
        "csrf.bad_token",
        "denied.supervisor_only",
        "login.replayed_totp",
    ] {
        assert!(logged(&log, OFFICER, action, ""), "no {action} in {log:#?}");
    }
    assert!(log.iter().all(|l| {
        let line = format!("{} {} {}", l.action, l.target, l.detail);
        !line.contains(PASSWORD) && !line.contains(&wrong) && !line.contains("mallory")
    }));
    // And the forged requests changed nothing
    sup.goto(&desk.at("/admin/accounts")).await.unwrap();
    wait_for(sup, "document.querySelector('table')", "the accounts page")
        .await
        .unwrap();
    assert!(!text_of(sup, "table").await.unwrap().contains("mallory"));
    supervisor.quit().await.unwrap();
    officer.quit().await.unwrap();
}

/// The idle expiry of the desk in [`test_an_expired_session_is_refused_and_audited`], seconds:
/// long enough that the supervisor's session outlives the officer's first sign-in (several page
/// loads and a TOTP enrolment, slow when several browsers share two cores).
const SHORT_IDLE: u64 = 20;

#[tokio::test]
async fn test_an_expired_session_is_refused_and_audited() {
    // Given a desk whose sessions expire after SHORT_IDLE seconds without use, a supervisor
    // who added an officer, and the officer signed in on the inbox
    let idle = SHORT_IDLE.to_string();
    let desk = DeskUnderTest::start_with(&["--session-idle-secs", &idle])
        .await
        .unwrap();
    let (supervisor, officer) =
        tokio::try_join!(Browser::start(1024, 768), Browser::start(1024, 768)).unwrap();
    let (sup, off) = (&supervisor.client, &officer.client);
    sign_in_first_time(sup, &desk, SUPERVISOR, &desk.supervisor_password)
        .await
        .unwrap();
    add_officer(sup, &desk, OFFICER).await.unwrap();
    sign_in_first_time(off, &desk, OFFICER, PASSWORD).await.unwrap();
    sup.goto(&desk.at("/")).await.unwrap();
    wait_for(
        sup,
        "document.querySelector('table.inbox')",
        "the supervisor still signed in",
    )
    .await
    .unwrap();

    // When the officer leaves the desk unused past the idle expiry (the open page's live
    // stream does not count as use), while the supervisor keeps using it
    let until = std::time::Instant::now() + std::time::Duration::from_secs(SHORT_IDLE + 2);
    while std::time::Instant::now() < until {
        sup.goto(&desk.at("/")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // and then comes back to the inbox
    off.goto(&desk.at("/")).await.unwrap();
    // (the supervisor reads the audit log at once: on a loaded machine the checks of the
    // officer's page below can take longer than the idle expiry, which would end the
    // supervisor's session too)
    let log = audit_page(sup, &desk).await.unwrap();

    // Then the desk sends the officer to sign in again, with nothing of the inbox shown
    wait_for(
        off,
        "location.pathname === '/login' && document.querySelector('input[name=password]')",
        "the expired session sent to sign in",
    )
    .await
    .unwrap();
    assert_eq!(
        js(off, "return document.querySelector('table.inbox') === null")
            .await
            .unwrap(),
        true
    );
    // and the supervisor, still signed in, read the expiry in the audit log.
    assert!(logged(&log, OFFICER, "session.expired", ""), "{log:?}");
    assert!(!logged(&log, SUPERVISOR, "session.expired", ""), "{log:?}");
}
