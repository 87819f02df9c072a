//! The desk under test and what its tests do in a browser: `tipline-server --dev` and, beside
//! it, `tipline-desk dev` (a desk of [`UNIT`] with a first supervisor, its receiving loop on),
//! a citizen's client filing to the intake, and the steps an officer takes in a page (sign in
//! with the password and a TOTP code, fill and send a form, wait for the page to show
//! something, read the audit log). Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use fantoccini::{Client, Locator};
use serde_json::Value;
use tipline_core::client::keystore::StaticKeyStore;
use tipline_core::client::{Client as Citizen, ClientConfig};
use tipline_core::compose::{Draft, DraftAttachment};
use tipline_desk::auth::totp::Secret;
use tipline_e2e::binaries::{self, DESK};
use tipline_e2e::{ChildServer, ServerOptions, TestServer, UNIT};

/// The longest a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

/// The dev desk's first account.
pub const SUPERVISOR: &str = "supervisor";

/// A password for the accounts the tests add.
pub const PASSWORD: &str = "correct horse battery staple";

/// An intake server and a dev desk of [`UNIT`] beside it; both killed on drop.
pub struct DeskUnderTest {
    /// The intake.
    pub server: TestServer,
    desk: ChildServer,
    /// The first supervisor's password, as the desk printed it.
    pub supervisor_password: String,
    citizens: tempfile::TempDir,
    _data: tempfile::TempDir,
}

/// The password in the line `tipline-desk dev` prints about its first supervisor.
fn printed_password(output: &str) -> Option<String> {
    let (_, rest) = output.split_once("with the password ")?;
    let password: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (!password.is_empty()).then_some(password)
}

impl DeskUnderTest {
    /// Starts the intake and the desk, and waits until the desk answers.
    pub async fn start() -> anyhow::Result<DeskUnderTest> {
        DeskUnderTest::start_with(&[]).await
    }

    /// [`DeskUnderTest::start`] with more arguments for `tipline-desk dev` (shorter session
    /// expiry, say).
    pub async fn start_with(desk_args: &[&str]) -> anyhow::Result<DeskUnderTest> {
        let server = TestServer::start(ServerOptions::default()).await?;
        let binary = tokio::task::spawn_blocking(|| binaries::locate(DESK)).await??;
        let data = tempfile::Builder::new().prefix("tipline-desk-").tempdir()?;
        let mut command = Command::new(binary);
        command
            .arg("dev")
            .arg("--server-data")
            .arg(server.data_dir())
            .arg("--unit")
            .arg(UNIT)
            .arg("--data-dir")
            .arg(data.path())
            .arg("--server")
            .arg(server.url())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(desk_args)
            .env("RUST_LOG", "info");
        let desk = tokio::task::spawn_blocking(move || ChildServer::spawn("tipline-desk", command)).await??;
        let supervisor_password = printed_password(&desk.output())
            .with_context(|| format!("tipline-desk printed no password:\n{}", desk.output()))?;
        Ok(DeskUnderTest {
            server,
            desk,
            supervisor_password,
            citizens: tempfile::tempdir()?,
            _data: data,
        })
    }

    /// The desk's base URL.
    pub fn url(&self) -> &str {
        self.desk.url()
    }

    /// The absolute URL of `path` at the desk.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.desk.url())
    }

    /// Where the phone called `name` keeps its data (its outbox among it).
    pub fn citizen_dir(&self, name: &str) -> PathBuf {
        self.citizens.path().join(name)
    }

    /// A citizen's phone called `name`: the core client with its own storage, against the
    /// intake, its directory read and verified.
    pub async fn citizen(&self, name: &str) -> anyhow::Result<Citizen> {
        let client = Citizen::open(ClientConfig {
            storage_dir: self.citizens.path().join(name),
            base_url: self.server.url().to_owned(),
            authority_key: self.server.authority()?,
            tls_pin: None,
            key_store: Arc::new(StaticKeyStore::new([7; 32])),
            timeout: Duration::from_secs(10),
            oblivious: None,
            local_address: None,
        })?;
        client.refresh_directory().await?;
        Ok(client)
    }
}

impl Drop for DeskUnderTest {
    fn drop(&mut self) {
        // A failing test shows what the desk and the intake said.
        if std::thread::panicking() {
            eprintln!("--- tipline-desk:\n{}", self.desk.output());
            eprintln!("--- tipline-server:\n{}", self.server.output());
        }
    }
}

/// A report from DK-84 saying `text`.
pub fn draft(text: &str) -> Draft {
    Draft {
        region: Some("DK-84".into()),
        category: "radicalisation".into(),
        text: text.into(),
        language: "da".into(),
        ..Draft::default()
    }
}

/// A 64 x 48 JPEG photo, a gradient.
pub fn photo() -> DraftAttachment {
    let (width, height) = (64u16, 48u16);
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..height {
        for x in 0..width {
            pixels.extend_from_slice(&[(x * 4) as u8, (y * 5) as u8, 140]);
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("a JPEG of a fixed size encodes");
    tipline_e2e::files::attachment("chat.jpg", "image/jpeg", &jpeg)
}

/// Runs `script` (a function body; a promise it returns is awaited) in the page.
pub async fn js(browser: &Client, script: &str) -> anyhow::Result<Value> {
    browser
        .execute(script, vec![])
        .await
        .with_context(|| format!("running {script}"))
}

/// Waits until the JavaScript expression `condition` is true in the page, at most [`WAIT`].
/// A page that is loading (the script cannot run) counts as not yet.
pub async fn wait_for(browser: &Client, condition: &str, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let script = format!("return !!({condition});");
    loop {
        if let Ok(Value::Bool(true)) = browser.execute(&script, vec![]).await {
            return Ok(());
        }
        if started.elapsed() > WAIT {
            let url = browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let text = js(browser, "return document.body ? document.body.innerText : ''")
                .await
                .unwrap_or_default();
            bail!("{what}: not within {WAIT:?} (at {url}; the page says: {text})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Marks the page that is open now; [`still_marked`] tells whether it is still the same one
/// (a reload or a navigation makes a new window object, without the mark).
pub async fn mark_page(browser: &Client) -> anyhow::Result<()> {
    js(browser, "window.__sameDocument = 'kept'; return null;").await?;
    Ok(())
}

/// Whether the page marked by [`mark_page`] is still the one open.
pub async fn still_marked(browser: &Client) -> anyhow::Result<bool> {
    Ok(js(browser, "return window.__sameDocument === 'kept';").await? == Value::Bool(true))
}

/// Fills the form that `form` selects (a `select` by value, anything else typed) and sends it
/// with its submit button, as an officer does. The page's live part is redrawn when the report
/// changes (an earlier step's own change may arrive late): a form redrawn while it was being
/// filled was not sent, so it is filled again from the start, a few times at most.
pub async fn submit_form(browser: &Client, form: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        match fill_and_send(browser, form, fields).await {
            Err(e) if tries < 5 && format!("{e:#}").contains("stale element") => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// Clicks what `selector` selects, again if the page's live part was redrawn between finding it
/// and clicking it (a few times at most).
pub async fn click(browser: &Client, selector: &str) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        let clicked = async {
            browser
                .find(Locator::Css(selector))
                .await
                .with_context(|| format!("nothing to click at {selector}"))?
                .click()
                .await?;
            anyhow::Ok(())
        }
        .await;
        match clicked {
            Err(e) if tries < 5 && format!("{e:#}").contains("stale element") => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

async fn fill_and_send(browser: &Client, form: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
    let form_element = browser
        .find(Locator::Css(form))
        .await
        .with_context(|| format!("no form {form}"))?;
    for (name, value) in fields {
        let field = form_element
            .find(Locator::Css(&format!("[name=\"{name}\"]")))
            .await
            .with_context(|| format!("no field {name} in {form}"))?;
        if field.tag_name().await? == "select" {
            field.select_by_value(value).await?;
        } else {
            field.clear().await?;
            field.send_keys(value).await?;
        }
    }
    form_element
        .find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    Ok(())
}

/// The text of what `selector` selects, or an empty text if nothing does.
pub async fn text_of(browser: &Client, selector: &str) -> anyhow::Result<String> {
    let script = format!(
        "var e = document.querySelector({}); return e ? e.textContent : '';",
        serde_json::to_string(selector)?
    );
    Ok(js(browser, &script)
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Sends the name and password on the sign-in page.
pub async fn enter_password(
    browser: &Client,
    desk: &DeskUnderTest,
    name: &str,
    password: &str,
) -> anyhow::Result<()> {
    browser.goto(&desk.at("/login")).await?;
    wait_for(
        browser,
        "document.querySelector('form[action=\"/login\"]')",
        "the sign-in form",
    )
    .await?;
    submit_form(
        browser,
        "form[action=\"/login\"]",
        &[("name", name), ("password", password)],
    )
    .await
}

/// The TOTP code of `secret` now.
pub fn code_now(secret: &Secret) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secret.code_at(now)
}

/// Signs in an account for the first time: the password, then the TOTP enrolment with a code
/// computed from the secret the page shows as text. Returns the secret; the browser is on the
/// inbox.
pub async fn sign_in_first_time(
    browser: &Client,
    desk: &DeskUnderTest,
    name: &str,
    password: &str,
) -> anyhow::Result<Secret> {
    enter_password(browser, desk, name, password).await?;
    let secret = enrolment_secret(browser).await?;
    submit_form(
        browser,
        "form[action=\"/login/enroll\"]",
        &[("code", &code_now(&secret))],
    )
    .await?;
    wait_for(
        browser,
        "location.pathname === '/' && document.querySelector('a.who')",
        &format!("{name} signed in, on the inbox"),
    )
    .await?;
    Ok(secret)
}

/// The TOTP secret the enrolment step shows.
pub async fn enrolment_secret(browser: &Client) -> anyhow::Result<Secret> {
    wait_for(
        browser,
        "document.querySelector('code.secret')",
        "the TOTP enrolment step",
    )
    .await?;
    let text = text_of(browser, "code.secret").await?;
    Secret::from_base32(text.trim()).with_context(|| format!("{text:?} is not a base32 secret"))
}

/// Adds an officer on the accounts page (the browser is a supervisor's).
pub async fn add_officer(browser: &Client, desk: &DeskUnderTest, name: &str) -> anyhow::Result<()> {
    browser.goto(&desk.at("/admin/accounts")).await?;
    submit_form(
        browser,
        "form[action=\"/admin/accounts\"]",
        &[("name", name), ("role", "officer"), ("password", PASSWORD)],
    )
    .await?;
    wait_for(
        browser,
        &format!(
            "location.pathname === '/admin/accounts' && [...document.querySelectorAll('table bdi')].some(b => b.textContent === '{name}')"
        ),
        &format!("{name} listed on the accounts page"),
    )
    .await
}

/// Signs out.
pub async fn sign_out(browser: &Client) -> anyhow::Result<()> {
    submit_form(browser, "form[action=\"/logout\"]", &[]).await?;
    wait_for(browser, "location.pathname === '/login'", "signed out").await
}

/// One line of the audit log as its page shows it.
#[derive(Debug, Clone)]
pub struct AuditLine {
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// More about it.
    pub detail: String,
}

/// The audit log as the supervisor's audit page lists it (the browser is a supervisor's).
pub async fn audit_page(browser: &Client, desk: &DeskUnderTest) -> anyhow::Result<Vec<AuditLine>> {
    browser.goto(&desk.at("/admin/audit")).await?;
    wait_for(
        browser,
        "document.querySelector('table.audit tbody')",
        "the audit page",
    )
    .await?;
    let rows = js(
        browser,
        "return [...document.querySelectorAll('table.audit tbody tr')].map(r => [...r.cells].map(c => c.textContent));",
    )
    .await?;
    let rows: Vec<Vec<String>> = serde_json::from_value(rows)?;
    Ok(rows
        .into_iter()
        .filter(|cells| cells.len() == 6)
        .map(|cells| AuditLine {
            actor: cells[2].clone(),
            action: cells[3].clone(),
            target: cells[4].clone(),
            detail: cells[5].clone(),
        })
        .collect())
}

/// Whether `log` has a line by `actor` doing `action` on something whose id starts with
/// `target` (empty: any).
pub fn logged(log: &[AuditLine], actor: &str, action: &str, target: &str) -> bool {
    log.iter()
        .any(|l| l.actor == actor && l.action == action && l.target.starts_with(target))
}

/// Where screenshots go: the folder `TIPLINE_SCREENSHOTS` names (from the workspace root if
/// relative), else a temporary folder kept as long as the returned guard.
pub fn screenshot_dir() -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match std::env::var_os("TIPLINE_SCREENSHOTS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let dir = if dir.is_absolute() {
                dir
            } else {
                binaries::workspace_root().join(dir)
            };
            std::fs::create_dir_all(&dir)?;
            Ok((dir, None))
        }
        None => {
            let temp = tempfile::Builder::new().prefix("tipline-screens-").tempdir()?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// Whether a file starts as a PNG does.
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\x89PNG\r\n\x1a\n"))
}
