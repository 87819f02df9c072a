//! `intake-ceiling`, the load benchmark's instrument, is what `loadgen` says it is: the intake
//! server's checks and signed receipts over a store that keeps no report.

use tipline_e2e::binaries::{self, CEILING};
use tipline_e2e::{citizen_and_desk, ServerOptions, TestServer, UNIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_ceiling_checks_and_signs_like_the_server_but_keeps_no_report() {
    // Given the ceiling binary with its dev setup, and a desk of the unit,
    let binary = tokio::task::spawn_blocking(|| binaries::locate(CEILING))
        .await
        .unwrap()
        .unwrap();
    let server = TestServer::start_with(binary, ServerOptions::default())
        .await
        .unwrap();
    let (citizen, unit_key, desk) = citizen_and_desk(&server, UNIT).await.unwrap();

    // when a citizen submits a report, the same one again, and a body that is not one,
    let submission = citizen.seal(UNIT, &unit_key, "Measured, not kept.").unwrap();
    let first = citizen.submit(&submission).await.unwrap();
    let again = citizen.submit(&submission).await.unwrap();
    let malformed = citizen
        .submit_body(r#"{"envelope":"AAAA"}"#.into(), &submission.envelope)
        .await
        .unwrap_err();

    // then each submission gets a 201 with a receipt that verifies for its envelope (a retry is
    // not a duplicate: nothing was kept to compare it with), the malformed one is refused as by
    // the server, and the unit's desk finds nothing to pull.
    for submitted in [&first, &again] {
        assert_eq!(submitted.status, 201);
        assert_eq!(submitted.verified.envelope_sha256, submission.envelope.digest());
    }
    assert!(format!("{malformed:#}").contains("answered 400"), "{malformed:#}");
    assert!(desk.pull(100).await.unwrap().is_empty());
}
