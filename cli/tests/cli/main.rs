//! The `tipline` binary as a process: what a user or another implementation's test sees.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn tipline(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tipline"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run tipline")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn test_envelope_seal_then_open_round_trips_through_files() {
    // Given a unit key pair, its public part, and a sample report
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(tipline(
        d,
        &["unit", "keygen", "--unit-id", "es-citco", "--out", "unit.key"],
    ));
    std::fs::write(
        d.join("unit.pub"),
        ok(tipline(d, &["unit", "public", "--key", "unit.key"])),
    )
    .unwrap();
    let report = ok(tipline(d, &["envelope", "sample-report"]));
    std::fs::write(d.join("report.json"), &report).unwrap();
    // When the report is sealed to the public key (both suites) and opened with the private key
    for suite in ["chacha20poly1305", "aes128gcm"] {
        ok(tipline(
            d,
            &[
                "envelope",
                "seal",
                "--report",
                "report.json",
                "--unit-key",
                "unit.pub",
                "--suite",
                suite,
                "--out",
                "env.bin",
            ],
        ));
        let opened: serde_json::Value = serde_json::from_str(&ok(tipline(
            d,
            &[
                "--json", "envelope", "open", "--in", "env.bin", "--key", "unit.key",
            ],
        )))
        .unwrap();
        // Then the same report comes out
        let original: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(opened["report"], original);
    }
}

#[test]
fn test_envelope_base64_on_stdout_opens_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(tipline(
        d,
        &["unit", "keygen", "--unit-id", "u1", "--out", "unit.key"],
    ));
    let public: serde_json::Value = serde_json::from_str(&ok(tipline(
        d,
        &["--json", "unit", "public", "--key", "unit.key"],
    )))
    .unwrap();
    std::fs::write(
        d.join("report.json"),
        ok(tipline(d, &["envelope", "sample-report"])),
    )
    .unwrap();
    let key = public["encryption_key"].as_str().unwrap();
    let b64 = ok(tipline(
        d,
        &[
            "envelope",
            "seal",
            "--report",
            "report.json",
            "--unit-key",
            key,
            "--unit-id",
            "u1",
        ],
    ));
    std::fs::write(d.join("env.txt"), b64).unwrap();
    ok(tipline(
        d,
        &["envelope", "open", "--in", "env.txt", "--key", "unit.key"],
    ));
}

#[test]
fn test_a_key_whose_base64url_starts_with_a_hyphen_is_a_value_not_an_option() {
    // Given a public key whose base64url text starts with '-' (first byte 0xf8 encodes as '-')
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("report.json"),
        ok(tipline(d, &["envelope", "sample-report"])),
    )
    .unwrap();
    let mut bytes = [0x5au8; 32];
    bytes[0] = 0xf8;
    let key = tipline_core::encoding::b64(&bytes);
    assert!(key.starts_with('-'), "{key}");
    // When it is given to --unit-key (one random key in 64 starts so), then it seals
    let sealed = ok(tipline(
        d,
        &[
            "envelope",
            "seal",
            "--report",
            "report.json",
            "--unit-key",
            &key,
            "--unit-id",
            "u1",
        ],
    ));
    assert!(!sealed.trim().is_empty());
}

#[test]
fn test_errors_are_clear_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(tipline(
        d,
        &["unit", "keygen", "--unit-id", "u1", "--out", "a.key"],
    ));
    ok(tipline(
        d,
        &["unit", "keygen", "--unit-id", "u1", "--out", "b.key"],
    ));
    std::fs::write(
        d.join("a.pub"),
        ok(tipline(d, &["unit", "public", "--key", "a.key"])),
    )
    .unwrap();
    std::fs::write(
        d.join("report.json"),
        ok(tipline(d, &["envelope", "sample-report"])),
    )
    .unwrap();
    ok(tipline(
        d,
        &[
            "envelope",
            "seal",
            "--report",
            "report.json",
            "--unit-key",
            "a.pub",
            "--out",
            "env.bin",
        ],
    ));

    let cases: [(&[&str], &str); 4] = [
        (
            &["envelope", "open", "--in", "env.bin", "--key", "b.key"],
            "another key",
        ),
        (
            &["envelope", "open", "--in", "missing.bin", "--key", "a.key"],
            "cannot read missing.bin",
        ),
        (
            &["envelope", "seal", "--report", "a.key", "--unit-key", "a.pub"],
            "a.key is not valid",
        ),
        (&["unit", "keygen", "--unit-id", "u1", "--out", "a.key"], "exists"),
    ];
    for (args, expected) in cases {
        let out = tipline(d, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // A corrupted envelope is refused, not opened.
    let mut env = std::fs::read(d.join("env.bin")).unwrap();
    let last = env.len() - 1;
    env[last] ^= 1;
    std::fs::write(d.join("bad.bin"), env).unwrap();
    assert!(
        !tipline(d, &["envelope", "open", "--in", "bad.bin", "--key", "a.key"])
            .status
            .success()
    );
}

#[test]
fn test_demo_runs_every_step_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = tipline(dir.path(), &["demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        "listening on http://127.0.0.1:",
        "directory v1 signed (format 2, naming the intake's receipt key",
        "verified it against the pinned authority key",
        "sealed report",
        "codename",
        "metadata removed: EXIF",
        "got it on its live stream",
        "SHA-256 verified",
        "read (unit signature checked)",
        "transfer",
        "published a signed alert",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(tipline(dir.path(), &["--json", "demo"]))).unwrap();
    assert_eq!(json["unit_id"], "dk-infohus-vestegnen");
    assert_eq!(json["photo_verified"], true);
    assert!(json["reply"].as_str().unwrap().starts_with("Tak"));
    assert_eq!(json["alerts"], 1);
}

/// `tipline` with extra environment variables.
fn tipline_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tipline"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("TIPLINE_DESK_PASSPHRASE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run tipline")
}

fn fails_with(out: Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(expected), "expected {expected:?} in: {stderr}");
}

#[test]
fn test_authority_signs_a_directory_from_a_source_file_and_shows_it() {
    // Given an authority key, the sample source, and keys for each of its units
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keygen: serde_json::Value = serde_json::from_str(&ok(tipline(
        d,
        &["--json", "authority", "keygen", "--out", "authority.key"],
    )))
    .unwrap();
    let public = keygen["public_key"].as_str().unwrap().to_owned();
    std::fs::write(d.join("authority.pub"), format!("{public}\n")).unwrap();
    std::fs::write(
        d.join("source.json"),
        ok(tipline(d, &["authority", "sample-source"])),
    )
    .unwrap();
    let source: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("source.json")).unwrap()).unwrap();
    let units: Vec<String> = source["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sign = vec![
        "authority",
        "sign",
        "--source",
        "source.json",
        "--key",
        "authority.key",
        "--version",
        "3",
        "--out",
        "signed.json",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    // When it signs without the units' keys, it says which is missing
    let args: Vec<&str> = sign.iter().map(String::as_str).collect();
    fails_with(tipline(d, &args), "tipline unit keygen");
    for unit in &units {
        ok(tipline(
            d,
            &[
                "unit",
                "keygen",
                "--unit-id",
                unit,
                "--out",
                &format!("{unit}.key"),
            ],
        ));
        std::fs::write(
            d.join(format!("{unit}.pub")),
            ok(tipline(d, &["unit", "public", "--key", &format!("{unit}.key")])),
        )
        .unwrap();
        sign.push("--unit-pub".into());
        sign.push(format!("{unit}.pub"));
    }
    let args: Vec<&str> = sign.iter().map(String::as_str).collect();
    assert!(ok(tipline(d, &args)).contains("signed directory v3"));
    // Then the signed file verifies against the authority key (given as a file or as text)
    let shown = ok(tipline(
        d,
        &[
            "authority",
            "show",
            "--file",
            "signed.json",
            "--authority-pub",
            "authority.pub",
        ],
    ));
    assert!(shown.contains("signature verified"), "{shown}");
    for unit in &units {
        assert!(shown.contains(unit.as_str()), "{unit} missing from {shown}");
    }
    let json: serde_json::Value = serde_json::from_str(&ok(tipline(
        d,
        &[
            "--json",
            "authority",
            "show",
            "--file",
            "signed.json",
            "--authority-pub",
            &public,
        ],
    )))
    .unwrap();
    assert_eq!(json["version"], 3);
    // And not against another authority's key, nor when altered
    ok(tipline(d, &["authority", "keygen", "--out", "other.key"]));
    let other = ok(tipline(d, &["authority", "keygen", "--out", "third.key"]));
    fails_with(
        tipline(
            d,
            &[
                "authority",
                "show",
                "--file",
                "signed.json",
                "--authority-pub",
                other.trim(),
            ],
        ),
        "does not verify",
    );
    fails_with(
        tipline(d, &["authority", "keygen", "--out", "authority.key"]),
        "exists",
    );
    fails_with(
        tipline(
            d,
            &[
                "authority",
                "show",
                "--file",
                "source.json",
                "--authority-pub",
                "authority.pub",
            ],
        ),
        "does not verify",
    );
    fails_with(
        tipline(
            d,
            &[
                "authority",
                "sign",
                "--source",
                "authority.key",
                "--key",
                "authority.key",
                "--version",
                "1",
                "--out",
                "x.json",
            ],
        ),
        "authority.key is not valid",
    );
}

#[test]
fn test_desk_store_refuses_a_wrong_passphrase() {
    // Given a desk store created under one passphrase
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(tipline(
        d,
        &[
            "unit",
            "keygen",
            "--unit-id",
            "dk-infohus-vestegnen",
            "--out",
            "unit.key",
        ],
    ));
    ok(tipline(
        d,
        &["unit", "keygen", "--unit-id", "es-citco", "--out", "other.key"],
    ));
    let desk = |key: &str, pass: Option<&str>| {
        let mut env = vec![];
        if let Some(pass) = pass {
            env.push(("TIPLINE_DESK_PASSPHRASE", pass));
        }
        tipline_env(
            d,
            &[
                "desk",
                "--key",
                key,
                "--store",
                "store",
                "--kdf-memory-mib",
                "8",
                "list",
            ],
            &env,
        )
    };
    assert!(ok(desk("unit.key", Some("first passphrase"))).contains("no reports"));
    // Then it opens again with it, and refuses another one, another unit, or none at all
    ok(desk("unit.key", Some("first passphrase")));
    fails_with(desk("unit.key", Some("second passphrase")), "wrong passphrase");
    fails_with(
        desk("other.key", Some("first passphrase")),
        "belongs to unit dk-infohus-vestegnen",
    );
    fails_with(desk("unit.key", None), "TIPLINE_DESK_PASSPHRASE");
    // And a key file that is not one is named
    std::fs::write(d.join("bad.key"), "{}").unwrap();
    fails_with(desk("bad.key", Some("x")), "bad.key is not a unit key file");
}

#[test]
fn test_server_down_is_a_clear_error() {
    // Given no server on the port (the discard port on loopback)
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = "http://127.0.0.1:9";
    ok(tipline(
        d,
        &[
            "unit",
            "keygen",
            "--unit-id",
            "dk-infohus-vestegnen",
            "--out",
            "unit.key",
        ],
    ));
    let public = ok(tipline(d, &["authority", "keygen", "--out", "authority.key"]));
    let pass = [("TIPLINE_DESK_PASSPHRASE", "p")];
    // Then the desk, the citizen and the authority all say so, and fail
    fails_with(
        tipline_env(
            d,
            &[
                "desk",
                "--server",
                url,
                "--key",
                "unit.key",
                "--store",
                "s",
                "--kdf-memory-mib",
                "8",
                "inbox",
            ],
            &pass,
        ),
        "cannot reach the server at http://127.0.0.1:9",
    );
    fails_with(
        tipline(
            d,
            &[
                "citizen",
                "--server",
                url,
                "--authority-pub",
                public.trim(),
                "--store",
                "c",
                "report",
                "--region",
                "DK-84",
                "--category",
                "radicalisation",
                "--text",
                "x",
            ],
        ),
        "cannot reach the server at http://127.0.0.1:9",
    );
    std::fs::write(d.join("signed.json"), "{}").unwrap();
    fails_with(
        tipline(
            d,
            &["authority", "publish", "--server", url, "--signed", "signed.json"],
        ),
        "is not a signed directory",
    );
    fails_with(
        tipline(
            d,
            &[
                "authority",
                "show",
                "--server",
                url,
                "--authority-pub",
                public.trim(),
            ],
        ),
        "cannot reach the server",
    );
    // And a desk command that needs no server works without one
    let out = tipline_env(
        d,
        &[
            "desk",
            "--key",
            "unit.key",
            "--store",
            "s",
            "--kdf-memory-mib",
            "8",
            "show",
            "abcd",
        ],
        &pass,
    );
    fails_with(out, "not found");
}

#[test]
fn test_output_into_a_closed_pipe_ends_quietly() {
    // Given a command whose reader is gone before it writes (as `tipline ... | head` leaves it)
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tipline"))
        .args(["authority", "sample-source"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());

    // When it writes its output and ends
    let out = child.wait_with_output().unwrap();

    // Then it ends with success and says nothing: no panic, no error
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}
