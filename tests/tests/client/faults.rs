//! Failures sorted by what can be done about them: a fault on the device (its storage, its key
//! store) or a passing one on the server is waited out and the report delivered once it passes,
//! never shown as refused; a refusal by the server (a 4xx other than 408 and 429) is final and
//! says which; a receipt that does not verify is kept aside and the report not sent again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tipline_core::client::keystore::{KeyStore, StaticKeyStore};
use tipline_core::client::{Client, OutboxItem, OutboxListener, OutboxStatus};
use tipline_core::Error;
use zeroize::Zeroizing;

use crate::support::{attach_jpeg, draft, Server};

/// A key store that fails once when armed (a phone locked since it started), then works.
struct FailsOnce {
    inner: StaticKeyStore,
    armed: AtomicBool,
    asked: AtomicUsize,
}

impl KeyStore for FailsOnce {
    fn key(&self, name: &str) -> tipline_core::Result<Zeroizing<[u8; 32]>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if self.armed.swap(false, Ordering::SeqCst) {
            return Err(Error::NotFound("the key store is locked".into()));
        }
        self.inner.key(name)
    }
}

/// The one item's status.
fn status(client: &Client) -> OutboxStatus {
    let items = client.outbox().unwrap();
    assert_eq!(items.len(), 1);
    items[0].status.clone()
}

/// Asserts the item waits for `reason` (and is not shown as refused).
fn assert_waiting(client: &Client, reason: &str) {
    match status(client) {
        OutboxStatus::Queued { last_error, .. } => assert_eq!(last_error.as_deref(), Some(reason)),
        other => panic!("expected a waiting item, got {other:?}"),
    }
}

#[tokio::test]
async fn test_a_key_store_that_fails_once_is_waited_out_and_the_report_delivered_once() {
    // Given a report with a photo filed, and the app started again while the key store is
    // locked (the upload of an attachment needs the case secret, kept sealed under its key)
    let server = Server::start().await;
    let dir = server.client_dir("phone");
    let keys = Arc::new(FailsOnce {
        inner: StaticKeyStore::new([7; 32]),
        armed: AtomicBool::new(false),
        asked: AtomicUsize::new(0),
    });
    {
        let client = server.client_with_key_store(&dir, server.authority_key(), keys.clone());
        client.refresh_directory().await.unwrap();
        client.file_report(&attach_jpeg(draft())).unwrap();
    }
    keys.armed.store(true, Ordering::SeqCst);
    let client = server.client_with_key_store(&dir, server.authority_key(), keys.clone());
    // When it flushes, then the report waits for this device, not refused
    let summary = client.flush().await.unwrap();
    assert_eq!((summary.delivered, summary.pending, summary.failed), (0, 1, 0));
    assert_waiting(&client, "reason-local");
    // And once the key store answers, it is delivered, once, with its photo
    let report_id = client.outbox().unwrap()[0].report_id;
    assert!(client.retry(report_id).unwrap());
    assert_eq!(client.flush().await.unwrap().delivered, 1);
    let delivered = server.desk_reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(server.open_attachments(&delivered[0]).await.len(), 1);
    assert!(
        keys.asked.load(Ordering::SeqCst) >= 2,
        "the key store was asked again"
    );
}

#[tokio::test]
async fn test_a_sealed_file_missing_from_the_outbox_folder_is_waited_out() {
    // Given a filed report whose sealed attachment cannot be read for a while (the storage that
    // holds the outbox folder is away)
    let server = Server::start().await;
    let dir = server.client_dir("phone");
    let client = server.client_in(&dir);
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&attach_jpeg(draft())).unwrap();
    let sealed = dir.join("outbox").join(format!("{}-0.sealed", filed.report_id));
    let aside = dir.join("aside.sealed");
    std::fs::rename(&sealed, &aside).unwrap();
    // When it flushes, then it waits for this device and is never shown as refused
    let summary = client.flush().await.unwrap();
    assert_eq!((summary.delivered, summary.pending, summary.failed), (0, 1, 0));
    assert_waiting(&client, "reason-local");
    // And once the file is back, the next attempt delivers it once
    std::fs::rename(&aside, &sealed).unwrap();
    client.retry(filed.report_id).unwrap();
    assert_eq!(client.flush().await.unwrap().delivered, 1);
    assert_eq!(server.desk_reports().await.len(), 1);
}

#[tokio::test]
async fn test_a_server_timeout_is_waited_out_but_a_4xx_is_final() {
    // Given a server that answers the first submission with 408
    let submissions = Arc::new(AtomicUsize::new(0));
    let server = Server::start_answering_first(408, submissions.clone()).await;
    let client = server.client("phone");
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&draft()).unwrap();
    // Then the report waits as for a busy server, and goes on the next attempt
    assert_eq!(client.flush().await.unwrap().pending, 1);
    assert_waiting(&client, "reason-busy");
    client.retry(filed.report_id).unwrap();
    assert_eq!(client.flush().await.unwrap().delivered, 1);

    // Given a server that answers the first submission with 422
    let submissions = Arc::new(AtomicUsize::new(0));
    let server = Server::start_answering_first(422, submissions.clone()).await;
    let client = server.client("phone");
    client.refresh_directory().await.unwrap();
    client.file_report(&draft()).unwrap();
    // Then the refusal is final and says which, and no later flush sends the report again
    assert_eq!(client.flush().await.unwrap().failed, 1);
    let OutboxStatus::Failed { reason, status, code } = status(&client) else {
        panic!("expected a refusal")
    };
    assert_eq!(
        (reason.as_str(), status, code.as_str()),
        ("reason-rejected", 422, "bad_envelope")
    );
    assert_eq!(client.flush().await.unwrap(), Default::default());
    assert_eq!(submissions.load(Ordering::SeqCst), 1);
    assert!(server.desk_reports().await.is_empty());
}

#[tokio::test]
async fn test_a_receipt_that_does_not_verify_is_kept_and_the_report_not_sent_again() {
    // Given a server that takes reports but answers with receipts that do not verify
    let submissions = Arc::new(AtomicUsize::new(0));
    let server = Server::start_forging_receipts(submissions.clone()).await;
    let client = server.client("phone");
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&draft()).unwrap();
    // When it flushes
    let summary = client.flush().await.unwrap();
    // Then the item has a state of its own, neither waiting nor refused, and stays so
    assert_eq!((summary.unverified, summary.pending, summary.failed), (1, 0, 0));
    assert_eq!(status(&client), OutboxStatus::ReceiptUnverified);
    assert!(!client.retry(filed.report_id).unwrap(), "not put back as new");
    client.flush().await.unwrap();
    assert_eq!(submissions.load(Ordering::SeqCst), 1);
    assert_eq!(status(&client), OutboxStatus::ReceiptUnverified);
}

/// A tmpfs of a few MiB mounted on a fresh folder for as long as it lives: a real file system
/// that a test can fill up (writes then fail with `ENOSPC`, as on a phone whose storage is full)
/// and free again. Mounting needs root (as in CI).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts one of `mib` MiB, or says why it cannot.
    fn mount(mib: u32) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tipline-test",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes a file at `path` on the disk until the disk is full.
    fn fill(path: &std::path::Path) {
        use std::io::Write;
        let mut file = std::fs::File::create(path).unwrap();
        let block = vec![0u8; 64 * 1024];
        // A 64 MiB bound in case the mount is larger than asked.
        for _ in 0..1024 {
            match file.write_all(&block).and_then(|()| file.sync_all()) {
                Ok(()) => continue,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let one = [0u8; 1];
        assert!(
            file.write_all(&one).and_then(|()| file.sync_all()).is_err(),
            "the disk is full"
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the disk the moment the report's envelope has reached the server (its receipt kept),
/// before the attachment's first piece is recorded as sent; records every status shown.
struct FillsTheDisk {
    filler: std::path::PathBuf,
    filled: AtomicBool,
    shown: std::sync::Mutex<Vec<OutboxStatus>>,
}

impl OutboxListener for FillsTheDisk {
    fn on_change(&self, item: OutboxItem) {
        if let OutboxStatus::Sending { progress } = item.status {
            if progress > 0.0 && !self.filled.swap(true, Ordering::SeqCst) {
                SmallDisk::fill(&self.filler);
            }
        }
        self.shown.lock().unwrap().push(item.status);
    }
}

#[tokio::test]
async fn test_a_full_disk_is_waited_out_and_the_report_delivered_once_space_returns() {
    let disk = match SmallDisk::mount(4) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: a full disk is simulated with a tmpfs, which cannot be mounted here ({why})");
            return;
        }
    };
    // Given a report with a 600 KB attachment (three pieces) filed on a phone whose storage is
    // that small disk
    let server = Server::start().await;
    let client = server.client_in(&disk.path().join("phone"));
    client.refresh_directory().await.unwrap();
    let mut report = draft();
    let bytes: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    report.attachments.push(tipline_e2e::files::attachment(
        "clip.bin",
        "application/octet-stream",
        &bytes,
    ));
    let filed = client.file_report(&report).unwrap();
    let listener = Arc::new(FillsTheDisk {
        filler: disk.path().join("filler"),
        filled: AtomicBool::new(false),
        shown: Default::default(),
    });
    client.set_listener(listener.clone());
    // When the disk fills up while the report is being sent (the server has its envelope and
    // the first piece, the phone cannot write down that it sent them)
    let summary = client.flush().await.unwrap();
    assert!(listener.filled.load(Ordering::SeqCst), "the disk was filled");
    // Then the report waits, and stays waiting while the disk is full
    assert_eq!((summary.delivered, summary.pending, summary.failed), (0, 1, 0));
    assert!(matches!(status(&client), OutboxStatus::Queued { .. }));
    assert!(client.file_report(&attach_jpeg(draft())).is_err());
    assert_eq!(client.outbox().unwrap().len(), 1, "nothing half-filed is kept");
    // And once space returns, the next flushes deliver it, once, whole
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let mut delivered = 0;
    for _ in 0..20 {
        delivered += client.flush().await.unwrap().delivered;
        if delivered > 0 {
            break;
        }
        // Due again after its back-off (at most 4 s for the first attempts).
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(delivered, 1);
    assert!(matches!(status(&client), OutboxStatus::Delivered { .. }));
    let at_desk = server.desk_reports().await;
    assert_eq!(at_desk.len(), 1);
    assert_eq!(at_desk[0].report_id, filed.report_id);
    assert_eq!(server.open_attachments(&at_desk[0]).await, vec![bytes]);
    // And it was never shown as refused
    let shown = listener.shown.lock().unwrap();
    assert!(
        !shown.iter().any(|s| matches!(s, OutboxStatus::Failed { .. })),
        "{shown:?}"
    );
}
