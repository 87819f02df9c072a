//! The stamp difficulty rises while intake is flooded, is announced in `/v1/config`, honours
//! stamps at the previous difficulty for a grace period, and falls back when intake calms.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use tipline_server::difficulty::StampPolicy;

use crate::support::{get, post_json, Env, Filed, DIFFICULTY, UNIT};

/// A window of one second in which more than two submissions are a flood.
fn flood_policy(grace: Duration) -> StampPolicy {
    StampPolicy {
        ceiling: DIFFICULTY + 4,
        window: Duration::from_secs(1),
        threshold: 2,
        grace,
    }
}

async fn announced(env: &Env) -> u64 {
    env.send(get("/v1/config")).await.json()["stamp_difficulty"]
        .as_u64()
        .unwrap()
}

/// Waits (at most 5 s) until `/v1/config` announces `difficulty`.
async fn wait_for(env: &Env, difficulty: u8) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while announced(env).await != u64::from(difficulty) {
        assert!(
            Instant::now() < deadline,
            "difficulty {difficulty} never announced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A submission whose stamp meets `difficulty` but not one bit more.
fn submission_at(filed: &Filed, difficulty: u8) -> serde_json::Value {
    let digest = filed.envelope.digest();
    let stamp = (0..)
        .find(|n| {
            tipline_core::stamp::verify(&digest, difficulty, *n)
                && !tipline_core::stamp::verify(&digest, difficulty + 1, *n)
        })
        .unwrap();
    let mut body = filed.submission(&[]);
    body["stamp"] = json!(stamp);
    body
}

/// Submits reports at the configured difficulty until the announced difficulty rises (at most
/// 5 s); the window it rose in has seen at most one of them.
async fn flood(env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let filed = env.seal(UNIT);
        env.send(post_json("/v1/reports", &submission_at(&filed, DIFFICULTY)))
            .await;
        if announced(env).await > u64::from(DIFFICULTY) {
            return;
        }
        assert!(Instant::now() < deadline, "the flood never raised the difficulty");
    }
}

#[tokio::test]
async fn test_flood_raises_the_announced_difficulty_and_calm_lowers_it() {
    // Given a calm server at the configured difficulty, with no grace for older stamps
    let env = Env::with_settings(|s| s.stamp_policy = flood_policy(Duration::ZERO)).await;
    assert_eq!(announced(&env).await, u64::from(DIFFICULTY));

    // When more submissions than the threshold come in a window
    flood(&env).await;

    // Then the next window announces one bit more, and a stamp at the old difficulty is refused
    assert_eq!(announced(&env).await, u64::from(DIFFICULTY + 1));
    let filed = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &submission_at(&filed, DIFFICULTY)))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error(), "bad_stamp");
    // while a stamp at the new one is taken
    let reply = env
        .send(post_json("/v1/reports", &submission_at(&filed, DIFFICULTY + 1)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);

    // And once a window passes calm, it is back at the configured difficulty
    wait_for(&env, DIFFICULTY).await;
    let other = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &submission_at(&other, DIFFICULTY)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

#[tokio::test]
async fn test_stamp_at_the_previous_difficulty_is_taken_within_the_grace_period() {
    // Given a server whose difficulty a flood raised, with a minute of grace
    let env = Env::with_settings(|s| s.stamp_policy = flood_policy(Duration::from_secs(60))).await;
    flood(&env).await;
    assert_eq!(announced(&env).await, u64::from(DIFFICULTY + 1));

    // When a reporter who solved at the difficulty announced before submits
    let filed = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &submission_at(&filed, DIFFICULTY)))
        .await;

    // Then the report is taken
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}
