//! Attachment files for tests: the core takes an attachment by path, as a phone app passes the
//! copy of a picked file it keeps in its cache.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tipline_core::compose::DraftAttachment;

/// The folder the attachment files of this test process go to (left for the system's temporary
/// folder cleaning: a test may still be sealing from it when another ends).
fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("tipline-attachments-")
            .tempdir()
            .expect("a temporary folder")
            .keep()
    })
}

/// Writes `bytes` to a new file and describes it as an attachment named `name` of `media_type`.
pub fn attachment(name: &str, media_type: &str, bytes: &[u8]) -> DraftAttachment {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = folder().join(format!("{}.bin", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, bytes).expect("an attachment file written");
    DraftAttachment {
        name: name.into(),
        media_type: media_type.into(),
        path,
    }
}
