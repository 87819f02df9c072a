//! The adversarial suite, short version: each attack one anonymous client can make runs against
//! the real server (default rate limits, short timeouts, a 16 MiB body budget, a small storage
//! budget) on loopback, bounded in connections and time. For each: `/healthz` answers within a
//! second throughout, a genuine reporter's report filed during the attack gets its receipt, the
//! server's resident memory stays under its budget, and the attack gets the refusals it should.
//! The `intake-attack` benchmark runs the same attacks larger and prints the figures.

use tipline_e2e::attack::{self, Tally, Target, Watched, SHORT};
use tipline_e2e::TestServer;

/// Starts a server for attacks and runs `attack` (made from the target) while watching it.
async fn run<F, Fut>(name: &str, attack: F) -> Watched
where
    F: FnOnce(Target) -> Fut,
    Fut: std::future::Future<Output = Tally> + Send + 'static,
{
    let mut server = TestServer::start(attack::server_options(SHORT)).await.unwrap();
    let target = Target::of(&mut server).await.unwrap();
    let genuine = target
        .genuine_report("a genuine report during an attack")
        .await
        .unwrap();
    let watched = attack::under_attack(&target, &genuine, attack(target.clone())).await;
    eprintln!("{name}: {watched}");
    if let Err(e) = watched.check() {
        panic!("{name}: {e:#}\n{watched}\nserver output:\n{}", server.output());
    }
    watched
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_half_sent_bodies_neither_take_memory_nor_keep_reporters_out() {
    // Given a server, when connections each declare a 1.3 MB body, send 1 MiB and stop,
    // half of them to a signed unit route with made-up signatures,
    let connections = SHORT.connections;
    let watched = run("half-sent bodies", |t| attack::half_sent_bodies(t, connections)).await;

    // then the unit route refuses every one before reading its body, and every report body is
    // cut or refused for want of room (the checks above: memory within budget, health, receipt).
    let tally = &watched.tally;
    assert_eq!(tally.of("unit: 401 unauthorized"), connections / 2, "{tally}");
    assert_eq!(
        tally.of_any(&["report: closed", "report: 400 bad_body", "report: 503 busy"]),
        connections / 2,
        "{tally}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_slow_headers_are_closed_at_the_header_timeout() {
    let watched = run("slow headers", |t| attack::slow_headers(t, SHORT.connections)).await;
    assert_eq!(watched.tally.of("closed"), SHORT.connections, "{}", watched.tally);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_slow_bodies_are_cut() {
    let watched = run("slow bodies", |t| attack::slow_bodies(t, SHORT.connections)).await;
    // (cut: the connection closed, after a 400 `bad_body` if the handler was reading it)
    assert_eq!(
        watched.tally.of_any(&["closed", "400 bad_body"]),
        SHORT.connections,
        "{}",
        watched.tally
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_idle_connections_past_the_cap_make_room_and_close() {
    // Given a server capped at 1.5 x SHORT.connections, when twice that many connections open
    // and idle,
    let connections = SHORT.connections * 2;
    let watched = run("idle connections", |t| attack::idle_connections(t, connections)).await;

    // then every one is closed, some early to make room for the probes and the reporter.
    let tally = &watched.tally;
    assert_eq!(tally.of_any(&["closed", "closed early"]), connections, "{tally}");
    assert!(tally.of("closed early") > 0, "{tally}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_made_up_methods_are_refused_and_stay_out_of_metrics() {
    let watched = run("made-up methods", |t| {
        attack::made_up_methods(t, SHORT.requests, SHORT.in_flight)
    })
    .await;
    let tally = &watched.tally;
    assert_eq!(
        tally.of_any(&["405 method_not_allowed", "404 not_found"]),
        SHORT.requests,
        "{tally}"
    );
    assert_eq!(tally.attempts, SHORT.requests, "metrics: {tally}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_follow_up_flood_to_random_cases_gets_only_404() {
    let watched = run("follow-up flood", |t| {
        attack::follow_up_flood(t, SHORT.requests, SHORT.in_flight)
    })
    .await;
    assert_eq!(
        watched.tally.of("404 unknown_case"),
        SHORT.requests,
        "{}",
        watched.tally
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_disk_filling_uploads_meet_507_and_text_reports_still_come_in() {
    let watched = run("disk-filling uploads", attack::disk_fill).await;
    let tally = &watched.tally;
    assert_eq!(tally.of("over-declared: 400 bad_attachments"), 1, "{tally}");
    assert!(tally.of("chunk: 204") > 0, "{tally}");
    assert!(tally.of("past declared: 400 too_long") > 0, "{tally}");
    assert!(
        tally.of_any(&["chunk: 507 storage_full", "report: 507 storage_full"]) > 0,
        "{tally}"
    );
    let expected = [
        "over-declared: 400 bad_attachments",
        "report: 201",
        "report: 507 storage_full",
        "chunk: 204",
        "chunk: 507 storage_full",
        "past declared: 400 too_long",
        "past declared: 507 storage_full",
    ];
    assert_eq!(tally.of_any(&expected), tally.attempts, "{tally}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_replayed_signed_request_is_refused() {
    let replays = SHORT.requests / 4;
    let watched = run("replayed signed request", |t| {
        attack::replayed_unit_request(t, replays, SHORT.in_flight)
    })
    .await;
    let tally = &watched.tally;
    assert_eq!(tally.of("first: 200"), 1, "{tally}");
    assert_eq!(tally.of("replay: 401 unauthorized"), replays, "{tally}");
    assert_eq!(tally.of("race: 200"), 1, "{tally}");
    assert_eq!(tally.of("race: 401 unauthorized"), 15, "{tally}");
}
