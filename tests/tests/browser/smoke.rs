//! The browser harness itself: a session starts, loads a page served on loopback, reads it and
//! takes a screenshot.

use std::time::Duration;

use tipline_e2e::{ServerOptions, TestServer};

use crate::driver::Browser;

#[tokio::test]
async fn test_a_headless_chromium_loads_a_loopback_page_and_takes_a_screenshot() {
    // Given a server on loopback and a browser
    let server = TestServer::start(ServerOptions::default()).await.unwrap();
    let browser = Browser::start(800, 600).await.unwrap();

    // When the browser opens the server's health page
    browser
        .client
        .goto(&format!("{}/healthz", server.url()))
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(10), browser.client.source())
        .await
        .unwrap()
        .unwrap();

    // Then it shows what the server answered, and a screenshot is a PNG of the window
    assert!(body.contains("ok"), "{body}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("healthz.png");
    browser.screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    browser.quit().await.unwrap();
}
