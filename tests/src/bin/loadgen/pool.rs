//! The submissions a phase sends: distinct sealed reports made before the phase, as request
//! bodies, and the loopback address they go to.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use tipline_core::keys::EncryptionPublicKey;
use tipline_e2e::citizen::seal_many;
use tipline_e2e::Submission;

use crate::DIFFICULTY;

/// The socket address of a server's `http://` URL on loopback.
pub fn addr_of(url: &str) -> anyhow::Result<SocketAddr> {
    url.trim_start_matches("http://")
        .parse()
        .with_context(|| format!("not a loopback address: {url}"))
}

/// Seals `count` distinct submissions to `unit_id` on every core, and says how long it took.
pub fn generate(
    unit_id: &str,
    key: &EncryptionPublicKey,
    count: usize,
    what: &str,
) -> anyhow::Result<Vec<Submission>> {
    let started = std::time::Instant::now();
    let all = seal_many(unit_id, key, DIFFICULTY, count, what)?;
    let secs = started.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    println!(
        "  sealed {count} submissions for {what} in {secs:.1} s ({:.0}/s on {threads} threads)",
        count as f64 / secs.max(1e-9)
    );
    Ok(all)
}

/// The request bodies of `pool`, shared by a phase's connections.
pub fn bodies(pool: &[Submission]) -> Arc<Vec<Bytes>> {
    Arc::new(pool.iter().map(|s| s.body.clone()).collect())
}
