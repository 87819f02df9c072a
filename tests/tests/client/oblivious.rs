//! The citizen's whole flow through an Oblivious HTTP relay, on three loopback addresses: the
//! device on 127.0.0.3, the relay (the real `tipline-relay` process) on 127.0.0.2, the intake on
//! 127.0.0.1, named with the gateway's keys in the authority-signed directory. The intake accepts
//! connections only from the relay, and the relay's memory and log hold none of what the device
//! sent in the clear.

use std::process::Command;

use tipline_core::encoding::b64;
use tipline_core::l10n::Language;
use tipline_e2e::binaries::{locate, RELAY};
use tipline_e2e::process::{memory_holds, ChildServer};

use crate::support::{attach_jpeg, draft, Server, UNIT};

/// Text only this test's follow-up carries.
const FOLLOW_UP: &str = "Han hedder Mads og kommer hver tirsdag (marker-7c1f).";

#[tokio::test]
async fn test_a_citizen_reaches_the_intake_only_through_the_relay() {
    // Given an intake on 127.0.0.1 and a relay on 127.0.0.2 that forwards to its gateway from
    // 127.0.0.2
    let server = Server::start().await;
    let gateway = format!("{}/.well-known/ohttp-gateway", server.url());
    let mut command = Command::new(locate(RELAY).unwrap());
    command
        .args(["--listen", "127.0.0.2:0", "--gateway", &gateway])
        .args(["--outgoing-address", "127.0.0.2"]);
    let relay = ChildServer::spawn("tipline-relay", command).unwrap();
    assert!(relay.url().starts_with("http://127.0.0.2:"), "{}", relay.url());
    // And a directory, signed by the authority, that names the gateway's keys and the relay
    server.publish_relay(&format!("{}/", relay.url())).await;
    // And a device on 127.0.0.3 that fetched it once, directly (it knew no relay before)
    let device = std::net::IpAddr::from([127, 0, 0, 3]);
    let client = server.client_from("phone-a", device);
    assert!(!client.is_oblivious());
    client.refresh_directory().await.unwrap();
    assert_eq!(server.accepted_peers(), vec![device]);
    server.clear_peers();
    // Then from now on every call goes through the relay
    assert!(client.is_oblivious());

    // When the reporter fetches the directory again, files a report with a photo and sends it
    client.refresh_directory().await.unwrap();
    let filed = client.file_report(&attach_jpeg(draft())).unwrap();
    let summary = client.flush().await.unwrap();
    assert_eq!((summary.delivered, summary.pending), (1, 0));
    // Then the unit has it whole, photo included
    let delivered = server.desk_reports().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].report_id, filed.report_id);
    let photos = server.open_attachments(&delivered[0]).await;
    assert_eq!(photos.len(), 1);

    // When the unit replies, the reporter reads it and answers
    server.reply(&delivered[0], "Tak. Hvornår skete det?").await;
    let conversation = client.conversation(filed.case_id).await.unwrap();
    assert_eq!(conversation.len(), 1);
    assert_eq!(conversation[0].text.as_deref(), Some("Tak. Hvornår skete det?"));
    client.send_follow_up(filed.case_id, FOLLOW_UP).await.unwrap();
    assert_eq!(
        server.follow_ups(&delivered[0]).await,
        vec![FOLLOW_UP.to_string()]
    );
    // And the region's alerts come through the relay too
    server.publish_alert(UNIT, false).await;
    let alerts = client.alerts("DK-84", Language::Danish).await.unwrap();
    assert_eq!(alerts.len(), 1);

    // Then every connection the intake accepted came from the relay's address
    let peers = server.accepted_peers();
    assert!(!peers.is_empty());
    assert!(
        peers.iter().all(|p| *p == std::net::IpAddr::from([127, 0, 0, 2])),
        "the intake saw {peers:?}"
    );

    // And the relay's memory holds nothing the device sent in the clear: not the follow-up's
    // text, not the case secret the device proves itself with, not the sealed report the server
    // stores; while it does hold its own command line (the scan works)
    let secret = b64(tipline_core::codename::Codename::parse(&filed.codename)
        .unwrap()
        .derive()
        .unwrap()
        .case_secret
        .as_ref());
    let envelope = b64(&delivered[0].envelope);
    let needles: [&[u8]; 4] = [
        gateway.as_bytes(),
        FOLLOW_UP.as_bytes(),
        secret.as_bytes(),
        &envelope.as_bytes()[..64],
    ];
    let found = memory_holds(relay.pid(), &needles).unwrap();
    assert_eq!(
        found,
        vec![true, false, false, false],
        "gateway url, follow-up, case secret, envelope"
    );
    // And its log neither
    let log = relay.output();
    assert!(
        !log.contains("127.0.0.3") && !log.contains(&secret) && !log.contains("marker-7c1f"),
        "{log}"
    );
}
