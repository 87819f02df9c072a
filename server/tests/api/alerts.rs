//! Alerts: published by a unit, read by region.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use tipline_core::alert::{Alert, Severity};
use tipline_core::keys::SigningKey;
use tipline_core::report::MessageId;
use tipline_core::signed::Signed;

use crate::support::{get, Env, OTHER, UNIT};

fn alert(unit: &str, regions: &[&str]) -> Alert {
    let now = Utc::now();
    Alert {
        alert_id: MessageId::random().unwrap(),
        unit_id: unit.to_owned(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        severity: Severity::Warning,
        title: BTreeMap::from([("da".to_owned(), "Pas på".to_owned())]),
        body: BTreeMap::from([(
            "da".to_owned(),
            "Falske opslag om arrangementer i området.".to_owned(),
        )]),
        issued_at: now,
        expires_at: now + Duration::days(1),
    }
}

fn sign(alert: &Alert, key: &SigningKey) -> Signed {
    alert.sign(key).unwrap()
}

async fn publish(env: &Env, unit: &str, signed: &Signed) -> crate::support::Reply {
    let body = serde_json::to_value(signed).unwrap();
    env.send(env.signed_json(unit, Method::POST, &format!("/v1/units/{unit}/alerts"), &body))
        .await
}

#[tokio::test]
async fn test_published_alert_is_served_for_its_region() {
    // Given an alert the unit signed for DK-84,
    let env = Env::new().await;
    let key = env.unit(UNIT).signing_key().unwrap();
    let issued = alert(UNIT, &["DK-84"]);
    let signed = sign(&issued, &key);
    // when it publishes it,
    let reply = publish(&env, UNIT, &signed).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.json()["alert_id"], issued.alert_id.to_string());
    // then devices in DK-84 get it as signed, and it verifies against the directory's key;
    let served = env.send(get("/v1/alerts?region=dk-84")).await.json();
    let alerts: Vec<Signed> = serde_json::from_value(served["alerts"].clone()).unwrap();
    assert_eq!(alerts, vec![signed.clone()]);
    Alert::verify(&alerts[0], UNIT, &key.verifying_key(), Utc::now()).unwrap();
    // devices elsewhere do not.
    for region in ["DK-81", "ES"] {
        let served = env.send(get(&format!("/v1/alerts?region={region}"))).await.json();
        assert!(served["alerts"].as_array().unwrap().is_empty(), "{region}");
    }
}

#[tokio::test]
async fn test_forged_or_invalid_alerts_are_refused() {
    let env = Env::new().await;
    let own_key = env.unit(UNIT).signing_key().unwrap();
    let other_key = env.unit(OTHER).signing_key().unwrap();
    // Signed with another unit's key in this unit's name.
    let reply = publish(&env, UNIT, &sign(&alert(UNIT, &["DK"]), &other_key)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "bad_signature");
    // Signed by this unit but claiming another.
    let reply = publish(&env, UNIT, &sign(&alert(OTHER, &["DK"]), &own_key)).await;
    assert_eq!(reply.error(), "invalid_alert");
    // Expired.
    let mut old = alert(UNIT, &["DK"]);
    old.issued_at = Utc::now() - Duration::days(3);
    old.expires_at = Utc::now() - Duration::days(1);
    let reply = publish(&env, UNIT, &sign(&old, &own_key)).await;
    assert_eq!(reply.error(), "invalid_alert");
    // Tampered after signing.
    let mut tampered = sign(&alert(UNIT, &["DK"]), &own_key);
    tampered.payload = serde_json::to_vec(&alert(UNIT, &["ES"])).unwrap();
    assert_eq!(publish(&env, UNIT, &tampered).await.error(), "bad_signature");
    // Nothing was stored.
    let served = env.send(get("/v1/alerts?region=DK")).await.json();
    assert!(served["alerts"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn test_alerts_need_a_valid_region() {
    let env = Env::new().await;
    for query in ["", "?region=", "?region=DK%2084", "?region=ABCDEFGHIJKL"] {
        let reply = env.send(get(&format!("/v1/alerts{query}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.error(), "invalid_region");
    }
}
