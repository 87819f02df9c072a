//! The signed directory and alerts.

use tipline_core::report::MessageId;
use tipline_server::store::StoredAlert;

use crate::{at, open_store, Backend};

fn alert(n: u8, regions: &[&str], expires_in_seconds: i64) -> StoredAlert {
    StoredAlert {
        alert_id: MessageId([n; 16]),
        unit_id: "dk-east".to_owned(),
        regions: regions.iter().map(|region| (*region).to_owned()).collect(),
        signed: format!("{{\"alert\":{n}}}").into_bytes(),
        expires_at: at(expires_in_seconds),
    }
}

fn ids(alerts: &[StoredAlert]) -> Vec<u8> {
    alerts.iter().map(|alert| alert.alert_id.0[0]).collect()
}

async fn test_directory_is_replaced_only_by_a_newer_version_of_its_format(backend: Backend) {
    // Given no directory
    let (store, _dir) = open_store(backend).await;
    assert_eq!(store.directory(1).await.unwrap(), None);

    // When version 2 is published, then 1 and 2 again, then 3, all in format 1
    let v2 = store.publish_directory(1, 2, b"v2".to_vec()).await.unwrap();
    let v1 = store.publish_directory(1, 1, b"v1".to_vec()).await.unwrap();
    let v2_again = store.publish_directory(1, 2, b"v2 again".to_vec()).await.unwrap();
    let after_old = store.directory(1).await.unwrap();
    let v3 = store.publish_directory(1, 3, b"v3".to_vec()).await.unwrap();

    // Then only the newer versions replace it
    assert!(v2);
    assert!(!v1);
    assert!(!v2_again);
    assert_eq!(after_old, Some((2, b"v2".to_vec())));
    assert!(v3);
    assert_eq!(store.directory(1).await.unwrap(), Some((3, b"v3".to_vec())));

    // And each format keeps its own: the same version in format 2 is new there, an older one is
    // refused there, and neither touches format 1
    assert_eq!(store.directory(2).await.unwrap(), None);
    assert!(store.publish_directory(2, 3, b"v3 f2".to_vec()).await.unwrap());
    assert!(!store.publish_directory(2, 2, b"v2 f2".to_vec()).await.unwrap());
    assert_eq!(store.directory(2).await.unwrap(), Some((3, b"v3 f2".to_vec())));
    assert_eq!(store.directory(1).await.unwrap(), Some((3, b"v3".to_vec())));
}

async fn test_alerts_match_region_or_its_country(backend: Backend) {
    // Given alerts for Denmark, for region DK-84, for DK-85 and for Spain
    let (store, _dir) = open_store(backend).await;
    store.add_alert(alert(1, &["DK"], 1000)).await.unwrap();
    store.add_alert(alert(2, &["DK-84"], 1000)).await.unwrap();
    store
        .add_alert(alert(3, &["DK-85", "DK-84"], 1000))
        .await
        .unwrap();
    store.add_alert(alert(4, &["ES"], 1000)).await.unwrap();

    // When a device in DK-84, a device asking for DK, and one in ES-MD ask
    let in_84 = store.alerts("DK-84", at(0), 10).await.unwrap();
    let in_dk = store.alerts("DK", at(0), 10).await.unwrap();
    let in_madrid = store.alerts("ES-MD", at(0), 10).await.unwrap();

    // Then DK-84 gets its region's and its country's alerts, newest first, each once; DK gets
    // the country-wide one only; ES-MD gets Spain's
    assert_eq!(ids(&in_84), vec![3, 2, 1]);
    assert_eq!(ids(&in_dk), vec![1]);
    assert_eq!(ids(&in_madrid), vec![4]);
    assert_eq!(in_84[0].regions, vec!["DK-85".to_owned(), "DK-84".to_owned()]);
    assert_eq!(in_84[0].signed, b"{\"alert\":3}");
    assert_eq!(in_84[0].expires_at, at(1000));
    assert_eq!(in_84[0].unit_id, "dk-east");
}

async fn test_alerts_expire_and_are_limited(backend: Backend) {
    // Given an alert expiring at t+10 and two expiring at t+100
    let (store, _dir) = open_store(backend).await;
    store.add_alert(alert(1, &["DK"], 10)).await.unwrap();
    store.add_alert(alert(2, &["DK"], 100)).await.unwrap();
    store.add_alert(alert(3, &["DK"], 100)).await.unwrap();

    // When asked before and at the first expiry, and with a limit of one
    let before = store.alerts("DK", at(9), 10).await.unwrap();
    let at_expiry = store.alerts("DK", at(10), 10).await.unwrap();
    let limited = store.alerts("DK", at(0), 1).await.unwrap();

    // Then the expired one is gone from its expiry on, and the limit keeps the newest
    assert_eq!(ids(&before), vec![3, 2, 1]);
    assert_eq!(ids(&at_expiry), vec![3, 2]);
    assert_eq!(ids(&limited), vec![3]);

    // And purging at t+50 deletes the expired one for good
    store.purge(at(0), at(50)).await.unwrap();
    assert_eq!(ids(&store.alerts("DK", at(0), 10).await.unwrap()), vec![3, 2]);
}

async fn test_add_alert_is_idempotent_on_its_id(backend: Backend) {
    // Given a stored alert
    let (store, _dir) = open_store(backend).await;
    store.add_alert(alert(1, &["DK"], 100)).await.unwrap();

    // When it is added again, even with other content
    let mut again = alert(1, &["ES"], 200);
    again.signed = b"other".to_vec();
    store.add_alert(again).await.unwrap();

    // Then the first stays, once
    let stored = store.alerts("DK", at(0), 10).await.unwrap();
    assert_eq!(ids(&stored), vec![1]);
    assert_eq!(stored[0].expires_at, at(100));
    assert!(store.alerts("ES", at(0), 10).await.unwrap().is_empty());
}

crate::contract_tests!(
    test_directory_is_replaced_only_by_a_newer_version_of_its_format,
    test_alerts_match_region_or_its_country,
    test_alerts_expire_and_are_limited,
    test_add_alert_is_idempotent_on_its_id,
);
