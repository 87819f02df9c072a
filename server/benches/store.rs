//! The SQLite store alone, without HTTP: how many reports per second `submit_report` takes when
//! many submissions arrive together (each wave of `n` concurrent submissions shares group
//! commits, as under load). It tells the store's own ceiling apart from the intake path's, so a
//! throughput figure from `loadgen` can be read: the intake can never take reports faster than
//! its store.
//!
//! Two placements of the same store:
//! - `disk`: a temporary folder on the machine's disk (every commit synced, as in production);
//! - `tmpfs`: `/dev/shm` where it exists, whose fsync costs nothing, so what is left is the
//!   store's CPU and memory traffic (SQLite's B-trees, its write-ahead log and checkpoints).
//!
//! Each submission is a distinct report of realistic size: a 1,236-byte envelope (a short report
//! sealed in the 1 KiB bucket, as `loadgen` sends) and a 1,000-byte receipt, random-looking
//! 16-byte report and case ids. The database grows as the benchmark runs, as it does under load.
//!
//! Run: `cargo bench -p tipline-server --bench store -- --warm-up-time 1 --measurement-time 5`

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tipline_core::crypto::sha256;
use tipline_core::report::{CaseId, ReportId};
use tipline_server::store::sqlite::SqliteStore;
use tipline_server::store::{NewReport, Store, SubmitOutcome};

const ENVELOPE_BYTES: usize = 1236;
const RECEIPT_BYTES: usize = 1000;
/// Concurrent submissions per wave.
const WAVES: [u64; 2] = [32, 256];

/// Report `n`: ids derived from `n` by SHA-256, so they fall at random places in the indexes.
fn report(n: u64) -> NewReport {
    let digest = sha256(&n.to_be_bytes());
    let mut report_id = [0u8; 16];
    let mut case_id = [0u8; 16];
    report_id.copy_from_slice(&digest[..16]);
    case_id.copy_from_slice(&digest[16..]);
    NewReport {
        report_id: ReportId(report_id),
        unit_id: "dk-sjp".to_owned(),
        envelope: vec![digest[0]; ENVELOPE_BYTES],
        envelope_sha256: digest,
        case_id: CaseId(case_id),
        case_secret_hash: digest,
        attachments: Vec::new(),
        received_at: Utc::now(),
        receipt: vec![b'r'; RECEIPT_BYTES],
    }
}

fn bench_placement(c: &mut Criterion, name: &str, folder: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir_in(folder).expect("a temporary folder");
    let store = SqliteStore::open(&dir.path().join("tipline.sqlite3")).expect("the store opens");
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group(format!("submit_report_{name}"));
    for wave in WAVES {
        group.throughput(Throughput::Elements(wave));
        group.bench_with_input(BenchmarkId::new("concurrent", wave), &wave, |b, &wave| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let first = next.fetch_add(wave, Ordering::Relaxed);
                    let reports: Vec<NewReport> = (first..first + wave).map(report).collect();
                    let started = Instant::now();
                    runtime.block_on(async {
                        let tasks: Vec<_> = reports
                            .into_iter()
                            .map(|report| {
                                let store = store.clone();
                                tokio::spawn(async move { store.submit_report(report).await })
                            })
                            .collect();
                        for task in tasks {
                            let outcome = task.await.expect("a submission task").expect("stored");
                            assert_eq!(outcome, SubmitOutcome::Created);
                        }
                    });
                    spent += started.elapsed();
                }
                spent
            });
        });
    }
    group.finish();
    runtime.block_on(store.close());
}

fn bench_store(c: &mut Criterion) {
    bench_placement(c, "disk", &std::env::temp_dir());
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        bench_placement(c, "tmpfs", shm);
    } else {
        eprintln!("no /dev/shm here: the tmpfs placement is skipped");
    }
}

criterion_group!(benches, bench_store);
criterion_main!(benches);
