//! `tipline demo`: the whole system on one machine, step by step. It starts the real intake
//! server in this process (on 127.0.0.1, over SQLite in a temporary folder), plays the authority,
//! two unit desks and a citizen through the same code the real tools use, and prints each step
//! with its time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::Utc;
use serde_json::json;
use tipline_core::alert::{Alert, Severity};
use tipline_core::client::http::{Api, CALL_TIMEOUT};
use tipline_core::client::keystore::StaticKeyStore;
use tipline_core::client::{Client, ClientConfig};
use tipline_core::compose::{Draft, DraftAttachment, DraftPlace};
use tipline_core::crypto::random::random_array;
use tipline_core::crypto::OsRandom;
use tipline_core::desk::{publish_directory, Desk, DeskClient, DeskStore, InboxEvent, KdfParams, Received};
use tipline_core::directory::{sample_source, Intake, SignedDirectory, DIRECTORY_FORMAT};
use tipline_core::keys::{SigningKey, UnitKeyFile};
use tipline_core::l10n::Language;
use tipline_core::media::strip_metadata;
use tipline_core::report::{MessageId, Person, Precision, When};
use tipline_server::launch::{Backend, Database, ServerConfig};
use tipline_server::Settings;

use super::photo::sample_jpeg;
use crate::output::Output;

/// The citizen's region; its unit is the first desk.
const REGION: &str = "DK-84";
/// The unit the report is transferred to.
const SECOND_UNIT: &str = "dk-infohus-nordjylland";
/// The anti-abuse stamp's difficulty on the demo server (the server's default is 16).
const DIFFICULTY: u8 = 8;
/// The desk stores' key derivation in the demo: Argon2id at OWASP's minimum (19 MiB, 2 passes),
/// so that a debug build runs the demo in seconds; desks default to 64 MiB and 3 passes.
const DEMO_KDF: KdfParams = KdfParams {
    memory_kib: 19 * 1024,
    iterations: 2,
    parallelism: 1,
};
/// The bound of every wait in the demo.
const WAIT: Duration = Duration::from_secs(20);

struct Clock {
    started: Instant,
    step: std::cell::Cell<u32>,
}

impl Clock {
    fn step(&self, out: &Output, text: &str) {
        self.step.set(self.step.get() + 1);
        out.note(&format!(
            "[{:>5} ms] {:>2}. {text}",
            self.started.elapsed().as_millis(),
            self.step.get()
        ));
    }
}

fn open_desk(dir: &Path, url: &str, keys: &UnitKeyFile, passphrase: &str) -> anyhow::Result<Desk> {
    let keys: UnitKeyFile = serde_json::from_slice(&serde_json::to_vec(keys)?)?;
    let store = DeskStore::open(dir, &keys.unit_id, passphrase, DEMO_KDF)?;
    let client = DeskClient::new(url, None, CALL_TIMEOUT, &keys)?;
    Ok(Desk::new(client, store, keys)?)
}

/// Waits on a desk's live stream for the first report, receives it, and waits (bounded) for
/// attachments the citizen is still uploading. Returns the desk, what it received, and when the
/// report arrived.
fn receive_first(
    desk: Desk,
    mut stream: tipline_core::desk::InboxStream,
) -> tokio::task::JoinHandle<anyhow::Result<(Desk, Received, Instant)>> {
    tokio::spawn(async move {
        let delivery = loop {
            match tokio::time::timeout(WAIT, stream.next()).await {
                Ok(Ok(Some(InboxEvent::Report(delivery)))) => break delivery,
                Ok(Ok(Some(InboxEvent::Message { .. }))) => continue,
                Ok(Ok(None)) => bail!("the live stream ended"),
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => bail!("no report reached {} within {WAIT:?}", desk.unit_id()),
            }
        };
        let arrived = Instant::now();
        let received = desk.receive_waiting(&delivery, WAIT).await?;
        if !received.pending.is_empty() {
            bail!("the photo did not finish uploading within {WAIT:?}");
        }
        Ok((desk, received, arrived))
    })
}

pub async fn run(out: &Output) -> anyhow::Result<()> {
    let clock = Clock {
        started: Instant::now(),
        step: std::cell::Cell::new(0),
    };
    let tmp = tempfile::Builder::new().prefix("tipline-demo-").tempdir()?;
    let root = tmp.path();

    // The intake server, in this process.
    std::fs::create_dir_all(root.join("server"))?;
    let authority = SigningKey::generate()?;
    let database = Database::Sqlite(root.join("server").join("tipline.db"));
    let receipt_key = SigningKey::generate()?;
    let receipt_public = receipt_key.verifying_key();
    let config = ServerConfig {
        settings: Settings {
            stamp_difficulty: DIFFICULTY,
            ..Settings::default()
        },
        ..ServerConfig::new(
            Backend::open(&database).await?,
            receipt_key,
            authority.verifying_key(),
        )
    };
    let server = config
        .start(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let url = server.url().to_owned();
    clock.step(
        out,
        &format!(
            "intake server (tipline-server, in this process) listening on {url}; embedded SQLite in {}; \
             anti-abuse stamp difficulty {DIFFICULTY} (the default is 16) so that the demo runs in seconds",
            root.join("server").display()
        ),
    );

    // The authority signs the directory with every unit's public keys and the intake's receipt
    // key (format 2), and a format 1 copy without the intake section for older apps.
    let mut source = sample_source()?;
    source.format = DIRECTORY_FORMAT;
    source.intake = Some(Intake {
        receipt_keys: vec![receipt_public],
        gateway_keys: Vec::new(),
        relays: Vec::new(),
    });
    let units = source
        .units
        .iter()
        .map(|u| UnitKeyFile::generate(&u.id))
        .collect::<tipline_core::Result<Vec<_>>>()?;
    for unit in &units {
        let public = unit.public()?;
        source.set_unit_keys(&unit.unit_id, public.encryption_key, public.verifying_key)?;
    }
    let body = source.into_body(1, Utc::now(), chrono::Duration::days(30))?;
    let signed = body.sign(&authority)?;
    let api = Api::new(&url, None, CALL_TIMEOUT)?;
    publish_directory(&api, &body.to_format_1().sign(&authority)?).await?;
    let version = publish_directory(&api, &signed).await?;
    let first_unit = signed
        .verify(&authority.verifying_key(), Utc::now(), None)?
        .unit_for_region(REGION)
        .context("no unit serves the demo region")?
        .id
        .clone();
    clock.step(
        out,
        &format!(
            "authority {} created its key; all {} units of the sample directory created their key pairs; \
             directory v{version} signed (format 2, naming the intake's receipt key, and a format 1 copy \
             for older apps) and published. The demo's desks: {first_unit} (serves {REGION}) and {SECOND_UNIT}",
            authority.verifying_key().key_id(),
            units.len()
        ),
    );

    // Both desks log in and hold their live inbox.
    let passphrase = tipline_core::encoding::b64(&random_array::<16>(&mut OsRandom::new())?);
    let keys_of = |id: &str| units.iter().find(|u| u.unit_id == id).context("demo unit keys");
    let desk_a = open_desk(&root.join("desk-a"), &url, keys_of(&first_unit)?, &passphrase)?;
    let desk_b = open_desk(&root.join("desk-b"), &url, keys_of(SECOND_UNIT)?, &passphrase)?;
    let stream_a = desk_a.client().inbox_stream().await?;
    let waiting_a = receive_first(desk_a, stream_a);
    clock.step(
        out,
        &format!(
            "desks of {first_unit} and {SECOND_UNIT} logged in with their unit keys (every request signed); \
             their local stores are encrypted under a passphrase (Argon2id at 19 MiB, 2 passes, for speed here; 64 MiB, 3 passes by default); {first_unit} holds its live inbox"
        ),
    );

    // A citizen files a report with a photo.
    let device_secret = random_array::<32>(&mut OsRandom::new())?;
    let citizen = Client::open(ClientConfig {
        storage_dir: root.join("citizen-phone"),
        base_url: url.clone(),
        authority_key: authority.verifying_key(),
        tls_pin: None,
        key_store: Arc::new(StaticKeyStore::new(device_secret)),
        timeout: CALL_TIMEOUT,
        oblivious: None,
        local_address: None,
    })?;
    let directory = citizen.refresh_directory().await?;
    clock.step(
        out,
        &format!(
            "citizen's device fetched the directory, verified it against the pinned authority key; \
             region {REGION} is served by {}",
            directory
                .unit_for_region(REGION)
                .map(|u| u.id.as_str())
                .unwrap_or("nobody")
        ),
    );
    let photo = sample_jpeg()?;
    let stripped = strip_metadata("image/jpeg", &photo)?;
    let photo_path = root.join("gym.jpg");
    std::fs::write(&photo_path, &photo)?;
    let draft = Draft {
        region: Some(REGION.into()),
        category: "radicalisation".into(),
        text: "En ung mand i fitnesscentret viser IS-videoer til yngre drenge og taler om at rejse ud."
            .into(),
        when: Some(When::Exact {
            at: Utc::now() - chrono::Duration::hours(20),
        }),
        place: Some(DraftPlace::Position {
            latitude: 55.6537,
            longitude: 12.2995,
            precision: Precision::Neighbourhood,
        }),
        people: vec![Person {
            name: None,
            description: "Around 20, black cap, comes on weekday evenings".into(),
        }],
        language: "da".into(),
        attachments: vec![DraftAttachment {
            name: "gym.jpg".into(),
            media_type: "image/jpeg".into(),
            path: photo_path.clone(),
        }],
        ..Draft::default()
    };
    let filed = citizen.file_report(&draft)?;
    let pressed_send = Instant::now();
    clock.step(
        out,
        &format!(
            "citizen sealed report {} for {} on the device (photo {} bytes; its metadata removed: {}; \
             position blurred to the neighbourhood); codename shown: \"{}\"",
            filed.report_id,
            filed.unit_id,
            photo.len(),
            stripped.removed.join(", "),
            filed.codename.as_str()
        ),
    );
    let flushed = citizen.flush().await?;
    if flushed.delivered != 1 {
        bail!("the outbox did not deliver the report: {flushed:?}");
    }
    clock.step(
        out,
        "outbox delivered it: proof of work solved, envelope and encrypted photo uploaded, \
         the server's signed receipt checked against the receipt key the directory lists, and kept",
    );

    // The first desk receives it live.
    let (desk_a, received, arrived) = tokio::time::timeout(WAIT + WAIT, waiting_a)
        .await
        .context("desk A timed out")???;
    let record = &received.record;
    let info = record
        .report
        .attachments
        .first()
        .context("the report lost its photo")?;
    clock.step(
        out,
        &format!(
            "desk {first_unit} got it on its live stream {} ms after the citizen pressed send; decrypted it \
             with the unit's key: [{}] \"{}\"; photo {} ({} bytes) downloaded, decrypted, SHA-256 verified, \
             stored encrypted; report acknowledged",
            arrived.duration_since(pressed_send).as_millis(),
            record.report.category,
            record.report.text,
            info.name,
            info.size
        ),
    );

    // The desk replies; the citizen reads it on another device from the codename alone.
    let reply_text = "Tak for din henvendelse. Vi kigger på det. Kan du fortælle, hvilke dage han kommer?";
    desk_a.reply(&record.report_id.to_string(), reply_text).await?;
    clock.step(
        out,
        &format!(
            "desk {first_unit} replied, signed with the unit's key and sealed to the reporter's reply key"
        ),
    );
    let laptop = Client::open(ClientConfig {
        storage_dir: root.join("citizen-laptop"),
        base_url: url.clone(),
        authority_key: authority.verifying_key(),
        tls_pin: None,
        key_store: Arc::new(StaticKeyStore::new(random_array::<32>(&mut OsRandom::new())?)),
        timeout: CALL_TIMEOUT,
        oblivious: None,
        local_address: None,
    })?;
    laptop.refresh_directory().await?;
    let case_id = laptop.recover_case(&filed.codename).await?;
    let conversation = laptop.conversation(case_id).await?;
    let read = conversation
        .iter()
        .find(|m| m.from_unit)
        .and_then(|m| m.text.clone())
        .context("the reply did not arrive")?;
    clock.step(
        out,
        &format!(
            "citizen, on another device with only the codename, recovered the case and read \
             (unit signature checked): \"{read}\""
        ),
    );

    // The first desk hands the case to the second unit.
    let stream_b = desk_b.client().inbox_stream().await?;
    let waiting_b = receive_first(desk_b, stream_b);
    let verified =
        SignedDirectory::from_json(&desk_a.client().api().directory().await?.context("no directory")?)?
            .verify(&authority.verifying_key(), Utc::now(), None)?;
    let transfer = match desk_a
        .transfer(&record.report_id.to_string(), SECOND_UNIT, &verified)
        .await
    {
        Ok(_) => {
            clock.step(
                out,
                &format!(
                    "desk {first_unit} transferred the report to {SECOND_UNIT}: re-sealed to that unit's key \
                     from the verified directory, photo re-encrypted under the new envelope and uploaded"
                ),
            );
            let (_, received_b, _) = tokio::time::timeout(WAIT + WAIT, waiting_b)
                .await
                .context("desk B timed out")???;
            let saved = received_b
                .record
                .attachments
                .iter()
                .all(|a| *a == tipline_core::desk::AttachmentState::Saved);
            clock.step(
                out,
                &format!(
                    "desk {SECOND_UNIT} got it on its live stream, decrypted it with its own key, photo {}; \
                     the case (and its conversation) is {SECOND_UNIT}'s now",
                    if saved { "SHA-256 verified" } else { "NOT verified" }
                ),
            );
            json!({ "to_unit": SECOND_UNIT, "received": true, "photo_verified": saved })
        }
        Err(e) => {
            waiting_b.abort();
            clock.step(out, &format!("transfer to {SECOND_UNIT} refused: {e}"));
            json!({ "to_unit": SECOND_UNIT, "received": false, "refused": e.to_string() })
        }
    };

    // An alert for the region, read back by the citizen.
    let now = Utc::now();
    let alert = Alert {
        alert_id: MessageId::random()?,
        unit_id: first_unit.clone(),
        regions: vec![REGION.into()],
        severity: Severity::Warning,
        title: [
            ("da".to_owned(), "Hvervning i lokale fitnesscentre".to_owned()),
            ("en".to_owned(), "Recruitment at local gyms".to_owned()),
        ]
        .into(),
        body: [
            ("da".to_owned(), "Tal med os, hvis du ser noget.".to_owned()),
            ("en".to_owned(), "Talk to us if you see something.".to_owned()),
        ]
        .into(),
        issued_at: now,
        expires_at: now + chrono::Duration::hours(24),
    };
    desk_a.publish_alert(&alert).await?;
    let alerts = citizen.alerts(REGION, Language::English).await?;
    clock.step(
        out,
        &format!(
            "desk {first_unit} published a signed alert for {REGION}; the citizen's device shows {} alert(s): \"{}\"",
            alerts.len(),
            alerts.first().map(|a| a.title.as_str()).unwrap_or_default()
        ),
    );

    let _ = tokio::time::timeout(Duration::from_secs(5), server.stop()).await;
    let elapsed = clock.started.elapsed();
    out.result(
        || {
            format!(
                "demo finished in {} ms: authority, server, citizen and two desks, all on this machine; \
                 the server only ever held ciphertext",
                elapsed.as_millis()
            )
        },
        &json!({
            "server": url,
            "unit_id": first_unit,
            "report_id": filed.report_id.to_string(),
            "photo_verified": record.attachments.iter().all(|a| *a == tipline_core::desk::AttachmentState::Saved),
            "reply": read,
            "transfer": transfer,
            "alerts": alerts.len(),
            "elapsed_ms": elapsed.as_millis() as u64,
        }),
    )
}
