//! The binary's command line: adding an account, and refusing clearly what it cannot do.

use std::io::Write;
use std::process::{Command, Stdio};

use tipline_core::desk::{DeskStore, KdfParams};
use tipline_core::keys::UnitKeyFile;
use tipline_desk::auth::password;

const BIN: &str = env!("CARGO_BIN_EXE_tipline-desk");

fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("unit.key");
    let keys = UnitKeyFile::generate("dk-cli-test").unwrap();
    std::fs::write(&path, serde_json::to_vec(&keys).unwrap()).unwrap();
    path
}

#[test]
fn test_user_add_reads_the_password_from_stdin_and_stores_a_hash() {
    // Given a key file and a passphrase in the environment
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let data = dir.path().join("data");

    // When a supervisor is added with the password on standard input
    let mut child = Command::new(BIN)
        .args([
            "user",
            "add",
            "--name",
            "sara",
            "--role",
            "supervisor",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--key")
        .arg(&key)
        .env("TIPLINE_DESK_PASSPHRASE", "store passphrase")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Then the store holds the account with an Argon2id hash of that password, and the audit
    // log says so
    let params = KdfParams::default();
    let store = DeskStore::open(&data, "dk-cli-test", "store passphrase", params).unwrap();
    let accounts = tipline_desk::state::load_accounts(&store).unwrap();
    let sara = &accounts["sara"];
    assert_eq!(sara.role.name(), "supervisor");
    assert!(sara.password_hash.starts_with("$argon2id$"));
    assert!(password::verify("a long enough password", &sara.password_hash));
    let audit = tipline_desk::audit::all(&store).unwrap();
    assert_eq!(audit[0].action, "account.add");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!printed.contains("a long enough password"));
}

#[test]
fn test_the_binary_refuses_a_missing_passphrase_and_a_short_password_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let data = dir.path().join("data");
    let run = |password: &[u8], env: bool| {
        let mut command = Command::new(BIN);
        command
            .args(["user", "add", "--name", "bo", "--role", "officer", "--data-dir"])
            .arg(&data)
            .arg("--key")
            .arg(&key)
            .env_remove("TIPLINE_DESK_PASSPHRASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if env {
            command.env("TIPLINE_DESK_PASSPHRASE", "store passphrase");
        }
        let mut child = command.spawn().unwrap();
        child.stdin.take().unwrap().write_all(password).unwrap();
        child.wait_with_output().unwrap()
    };
    let no_passphrase = run(b"a long enough password\n", false);
    assert!(!no_passphrase.status.success());
    assert!(String::from_utf8_lossy(&no_passphrase.stderr).contains("TIPLINE_DESK_PASSPHRASE"));
    let short = run(b"short\n", true);
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(
        stderr.contains("password") && !stderr.contains("short\n"),
        "{stderr}"
    );
    // A wrong passphrase for an existing store is refused as such
    assert!(run(b"a long enough password\n", true).status.success());
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--server",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--key")
        .arg(&key)
        .env("TIPLINE_DESK_PASSPHRASE", "not the passphrase")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
    assert!(!stderr.contains("not the passphrase"));
}
