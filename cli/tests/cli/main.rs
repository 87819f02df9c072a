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
        "verified the directory",
        "sealed report",
        "codename",
        "decrypted report",
        "SHA-256 verified",
        "read:",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(tipline(dir.path(), &["--json", "demo"]))).unwrap();
    assert_eq!(json["unit_id"], "dk-infohus-vestegnen");
    assert!(json["reply"].as_str().unwrap().starts_with("Tak"));
}
