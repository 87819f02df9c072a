//! The export of a case for the case file: a zip with a printable page, the data as JSON, and
//! the attachments checked against their SHA-256.

use std::io::Read;

use tipline_core::crypto::sha256;
use tipline_desk::accounts::Role;

use crate::support::{sample, Desktop};

#[tokio::test]
async fn test_a_case_exports_as_a_zip_with_its_page_data_and_checked_attachments() {
    // Given a report with a photo and hostile text, with a note
    let desk = Desktop::new();
    let photo = b"\xff\xd8\xff\xe0 the photo's bytes".to_vec();
    // and a page that would run its script if opened from the case folder,
    let page_bytes = b"<html><script>alert(1)</script></html>";
    let id = desk.report_with(
        sample("<script>window.__pwned=1</script> he meets them on Fridays"),
        vec![
            ("../../gym photo.jpg", "image/jpeg", photo.clone()),
            ("evidence.html", "text/html", page_bytes.to_vec()),
        ],
    );
    let mut browser = desk.signed_in("anna", Role::Officer).await;
    let page = browser.get(&format!("/reports/{id}")).await;
    assert!(page.body.contains(&format!("/reports/{id}/export")));
    browser
        .submit(
            &format!("/reports/{id}"),
            &format!("/reports/{id}/notes"),
            &[("text", "Called the school.")],
        )
        .await;

    // When an officer exports it
    let answer = browser.get(&format!("/reports/{id}/export")).await;

    // Then it is a zip download
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "application/zip");
    assert!(answer.header("content-disposition").starts_with("attachment;"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(answer.bytes.clone())).unwrap();
    let mut read = |name: &str| {
        let mut bytes = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
        bytes
    };
    // with the page, everything from the report escaped and no script
    let html = String::from_utf8(read("report.html")).unwrap();
    assert!(
        html.contains("&#60;script&#62;window.__pwned=1&#60;/script&#62;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("Called the school."));
    // the data, the attachment under a plain name, byte for byte, and its SHA-256
    let json: serde_json::Value = serde_json::from_slice(&read("report.json")).unwrap();
    assert_eq!(json["report_id"], id.to_string());
    assert_eq!(json["team"]["notes"][0]["text"], "Called the school.");
    assert_eq!(read("attachments/00-gym_photo.jpg"), photo);
    let sums = String::from_utf8(read("SHA256SUMS")).unwrap();
    let hex: String = sha256(&photo).iter().map(|b| format!("{b:02x}")).collect();
    // and the page under the extension of what it is (nothing the desk shows: `.bin`), never
    // the reporter's `.html`
    assert_eq!(read("attachments/01-evidence.bin"), page_bytes);
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert!(
        names.iter().all(|n| n == "report.html" || !n.ends_with(".html")),
        "{names:?}"
    );
    let page_hex: String = sha256(page_bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        sums,
        format!("{hex}  attachments/00-gym_photo.jpg\n{page_hex}  attachments/01-evidence.bin\n")
    );
    // And opening the report and exporting it are in the audit log
    assert!(desk.audited("anna", "report.opened"));
    assert!(desk.audited("anna", "report.exported"));
}

#[tokio::test]
async fn test_an_export_needs_a_signed_in_officer() {
    let desk = Desktop::new();
    let id = desk.report("text");
    let mut stranger = desk.browser();
    let answer = stranger.get(&format!("/reports/{id}/export")).await;
    assert_ne!(answer.status, 200);
    assert!(answer.bytes.is_empty() || !answer.bytes.starts_with(b"PK"));
}
