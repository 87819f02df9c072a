//! The `tipline` tool against a real `tipline-server` process on loopback: the authority signs
//! and publishes a directory, a citizen files a report with a photo, the server is killed and
//! restarted, a desk receives and decrypts the report and its photo, replies, reads the
//! reporter's follow-up, transfers the case to another unit whose desk receives it, and
//! publishes an alert the citizen reads. Every step is a process, as a person would run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tipline_e2e::binaries::{self, CLI};
use tipline_e2e::{ServerOptions, TestServer, OTHER_UNIT, UNIT};

/// The bound of one `tipline` run.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);
/// The bound of the whole flow, once the binaries are built.
const FLOW_TIMEOUT: Duration = Duration::from_secs(30);
const PASSPHRASE: &str = "e2e desk passphrase";

struct Tool {
    binary: PathBuf,
    dir: PathBuf,
}

impl Tool {
    /// Runs `tipline --json <args>`; the exit status, stdout as JSON (or Null) and stderr.
    fn run(&self, args: &[&str]) -> (bool, Value, String) {
        let mut child = Command::new(&self.binary)
            .current_dir(&self.dir)
            .arg("--json")
            .args(args)
            .env("TIPLINE_DESK_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tipline");
        let deadline = Instant::now() + RUN_TIMEOUT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("tipline {args:?} ran longer than {RUN_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.success(),
            serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stderr,
        )
    }

    /// Runs and expects success; returns the JSON output.
    fn ok(&self, args: &[&str]) -> Value {
        let (success, json, stderr) = self.run(args);
        assert!(success, "tipline {args:?} failed: {stderr}");
        json
    }
}

fn s(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// A small real JPEG.
fn photo() -> Vec<u8> {
    let (w, h) = (64u16, 48u16);
    let pixels: Vec<u8> = (0..u32::from(w) * u32::from(h))
        .flat_map(|i| [(i % 251) as u8, (i / 7 % 253) as u8, 90])
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    jpeg
}

async fn supports_attachment_transfer(url: &str) -> bool {
    let doc: Value = reqwest::get(format!("{url}/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doc.pointer("/components/schemas/TransferRequest/properties/upload_secret_hash")
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_authority_citizen_and_desks_through_the_tipline_tool_across_restarts() {
    let mut server = TestServer::start(ServerOptions::default()).await.unwrap();
    let binary = tokio::task::spawn_blocking(|| binaries::locate(CLI))
        .await
        .unwrap()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let tool = Tool {
        binary,
        dir: work.path().to_owned(),
    };
    let flow = async {
        let started = Instant::now();
        let data = server.data_dir().to_owned();
        let authority_key = s(&data.join("authority.key"));
        let authority_pub = s(&data.join("authority.pub"));

        // Given units with fresh keys in a directory the (dev) authority signs (format 2, naming
        // the intake's receipt key from its configuration, and a format 1 copy) and publishes,
        let config: Value = reqwest::get(format!("{}/v1/config", server.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let receipt_key = config["server_key"].as_str().unwrap().to_owned();
        std::fs::create_dir_all(work.path().join("units")).unwrap();
        let source = tool.ok(&["authority", "sample-source"]);
        std::fs::write(work.path().join("source.json"), source.to_string()).unwrap();
        let mut sign = vec![
            "authority".to_owned(),
            "sign".into(),
            "--source".into(),
            "source.json".into(),
            "--key".into(),
            authority_key,
            "--version".into(),
            "2".into(),
            "--out".into(),
            "signed.json".into(),
            "--format-1-out".into(),
            "signed-v1.json".into(),
            "--receipt-key".into(),
            receipt_key,
        ];
        for unit in source["units"].as_array().unwrap() {
            let id = unit["id"].as_str().unwrap();
            let key = format!("units/{id}.key");
            tool.ok(&["unit", "keygen", "--unit-id", id, "--out", &key]);
            let public = tool.ok(&["unit", "public", "--key", &key]);
            std::fs::write(work.path().join(format!("units/{id}.pub")), public.to_string()).unwrap();
            sign.extend(["--unit-pub".to_owned(), format!("units/{id}.pub")]);
        }
        tool.ok(&sign.iter().map(String::as_str).collect::<Vec<_>>());
        let published = tool.ok(&[
            "authority",
            "publish",
            "--server",
            server.url(),
            "--signed",
            "signed-v1.json",
            "--signed",
            "signed.json",
        ]);
        assert_eq!(published["version"], 2);
        let shown = tool.ok(&[
            "authority",
            "show",
            "--server",
            server.url(),
            "--authority-pub",
            &authority_pub,
        ]);
        assert_eq!(shown["version"], 2);
        assert_eq!(shown["format"], 2);
        assert_eq!(shown["intake"]["receipt_keys"][0], config["server_key"]);
        let ours = tool.ok(&["unit", "public", "--key", &format!("units/{UNIT}.key")]);
        let listed = shown["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == UNIT)
            .unwrap();
        assert_eq!(listed["encryption_key"], ours["encryption_key"]);

        // when a citizen files a report with a photo,
        std::fs::write(work.path().join("photo.jpg"), photo()).unwrap();
        let mut url = server.url().to_owned();
        let citizen = |url: &str, store: &str| {
            vec![
                "citizen".to_owned(),
                "--server".into(),
                url.to_owned(),
                "--authority-pub".into(),
                authority_pub.clone(),
                "--store".into(),
                store.to_owned(),
            ]
        };
        let with = |mut base: Vec<String>, rest: &[&str]| {
            base.extend(rest.iter().map(|a| (*a).to_owned()));
            base
        };
        let args = with(
            citizen(&url, "phone"),
            &[
                "report",
                "--region",
                "DK-84",
                "--category",
                "radicalisation",
                "--language",
                "da",
                "--text",
                "A recruiter shows videos to boys at the gym.",
                "--person",
                "K.: around 20, black cap",
                "--attach",
                "photo.jpg",
            ],
        );
        let filed = tool.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(filed["status"]["state"], "delivered", "{filed}");
        assert_eq!(filed["unit_id"], UNIT);
        let report_id = filed["report_id"].as_str().unwrap().to_owned();
        let codename = filed["codename"].as_str().unwrap().to_owned();

        // and the server is killed and restarted on the same data directory,
        server.restart().await.unwrap();
        url = server.url().to_owned();
        let desk = |url: &str, unit: &str, store: &str| {
            vec![
                "desk".to_owned(),
                "--server".into(),
                url.to_owned(),
                "--key".into(),
                format!("units/{unit}.key"),
                "--store".into(),
                store.to_owned(),
                "--authority-pub".into(),
                authority_pub.clone(),
                "--kdf-memory-mib".into(),
                "8".into(),
            ]
        };
        let run = |args: Vec<String>| tool.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());

        // then the unit's desk receives it on the live stream, decrypted, photo verified,
        let inbox = run(with(
            desk(&url, UNIT, "desk-a"),
            &["inbox", "--once", "--wait", "15"],
        ));
        let got = &inbox.as_array().unwrap()[0];
        assert_eq!(got["report_id"], report_id.as_str());
        assert_eq!(
            got["report"]["text"],
            "A recruiter shows videos to boys at the gym."
        );
        assert_eq!(got["report"]["people"][0]["name"], "K.");
        assert_eq!(got["acked"], true);
        assert_eq!(got["attachments"][0]["verified"], true, "{got}");
        let exported = run(with(
            desk(&url, UNIT, "desk-a"),
            &["export", &report_id, "--out", "exported"],
        ));
        let file = exported["files"][0].as_str().unwrap();
        assert_eq!(
            std::fs::metadata(work.path().join(file)).unwrap().len(),
            got["attachments"][0]["size"].as_u64().unwrap()
        );
        // (acknowledged: a pull finds nothing more)
        let again = run(with(desk(&url, UNIT, "desk-a"), &["inbox"]));
        assert_eq!(again.as_array().unwrap().len(), 0);

        // it replies, the server restarts again, and the citizen reads the reply on another
        // device from the codename alone, and answers;
        let status = run(with(
            desk(&url, UNIT, "desk-a"),
            &["status", &report_id[..8], "in-progress"],
        ));
        assert_eq!(status["status"], "in-progress");
        run(with(
            desk(&url, UNIT, "desk-a"),
            &[
                "reply",
                &report_id,
                "--text",
                "Thank you. Which days does he come?",
            ],
        ));
        run(with(
            desk(&url, UNIT, "desk-a"),
            &[
                "notice",
                &report_id,
                "in_progress",
                "--text",
                "We are looking into your report.",
            ],
        ));
        server.restart().await.unwrap();
        url = server.url().to_owned();
        let case = with(
            citizen(&url, "laptop"),
            &["case", "--codename", &codename, "--say", "Fridays, after six."],
        );
        let case = tool.ok(&case.iter().map(String::as_str).collect::<Vec<_>>());
        let messages = case["messages"].as_array().unwrap();
        assert!(
            messages
                .iter()
                .any(|m| m["from_unit"] == true && m["text"] == "Thank you. Which days does he come?"),
            "{case}"
        );
        assert!(
            messages.iter().any(|m| m["from_unit"] == true
                && m["status"] == "in_progress"
                && m["text"] == "We are looking into your report."),
            "{case}"
        );
        let conversation = run(with(desk(&url, UNIT, "desk-a"), &["messages", &report_id]));
        assert!(
            conversation
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["from_reporter"] == true && m["text"] == "Fridays, after six."),
            "{conversation}"
        );

        // the desk transfers the case to another unit, whose desk receives it;
        let transfer_args = with(
            desk(&url, UNIT, "desk-a"),
            &["transfer", &report_id, "--to", OTHER_UNIT],
        );
        let transferred_id = if supports_attachment_transfer(&url).await {
            run(transfer_args);
            report_id.clone()
        } else {
            // This server cannot take re-sealed attachments from a desk: the transfer of the
            // photo report is refused before anything changes, and a text-only report shows
            // the transfer itself.
            let (success, _, stderr) =
                tool.run(&transfer_args.iter().map(String::as_str).collect::<Vec<_>>());
            assert!(
                !success && stderr.contains("cannot take re-sealed attachments"),
                "{stderr}"
            );
            let shown = run(with(desk(&url, UNIT, "desk-a"), &["show", &report_id]));
            assert_eq!(shown["transferred_to"], Value::Null);
            let args = with(
                citizen(&url, "phone"),
                &[
                    "report",
                    "--unit",
                    UNIT,
                    "--category",
                    "online-propaganda",
                    "--text",
                    "A channel shares attack videos.",
                ],
            );
            let second = tool.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let second_id = second["report_id"].as_str().unwrap().to_owned();
            run(with(
                desk(&url, UNIT, "desk-a"),
                &["inbox", "--once", "--wait", "15"],
            ));
            run(with(
                desk(&url, UNIT, "desk-a"),
                &["transfer", &second_id, "--to", OTHER_UNIT],
            ));
            second_id
        };
        let shown = run(with(desk(&url, UNIT, "desk-a"), &["show", &transferred_id]));
        assert_eq!(shown["transferred_to"], OTHER_UNIT);
        assert_eq!(shown["status"], "forwarded");
        let inbox_b = run(with(
            desk(&url, OTHER_UNIT, "desk-b"),
            &["inbox", "--once", "--wait", "15"],
        ));
        let got_b = &inbox_b.as_array().unwrap()[0];
        assert_eq!(got_b["report_id"], transferred_id.as_str());
        assert_eq!(got_b["acked"], true);
        for attachment in got_b["attachments"].as_array().unwrap() {
            assert_eq!(attachment["verified"], true, "{got_b}");
        }

        // and the first desk publishes an alert the citizen sees, its signature checked.
        run(with(
            desk(&url, UNIT, "desk-a"),
            &[
                "alert",
                "--region",
                "DK-84",
                "--severity",
                "warning",
                "--title",
                "en=Recruiters at gyms",
                "--body",
                "en=Talk to us if you see something.",
                "--expires-in-hours",
                "2",
            ],
        ));
        let alerts = with(citizen(&url, "phone"), &["alerts", "--region", "DK-84"]);
        let alerts = tool.ok(&alerts.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(alerts[0]["title"], "Recruiters at gyms", "{alerts}");
        assert_eq!(alerts[0]["unit_id"], UNIT);
        println!("desk e2e flow took {} ms", started.elapsed().as_millis());
    };
    tokio::time::timeout(FLOW_TIMEOUT, flow)
        .await
        .unwrap_or_else(|_| panic!("the flow took longer than {FLOW_TIMEOUT:?}:\n{}", server.output()));
}
