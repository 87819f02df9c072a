//! Attachment encryption throughput on one core, and peak memory flat in the attachment's size.
//!
//! Memory: the process's peak resident set (VmHWM) is read before and after encrypting 1 MiB
//! and then 64 MiB from a generating reader into a sink; if encryption streams, both add the
//! same few chunks' worth.

use std::io::{self, Read};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tipline_core::attachment::{self, AttachmentKey};
use tipline_core::envelope::seal_report;
use tipline_core::keys::EncryptionSecretKey;
use tipline_core::report::Report;

const MIB: u64 = 1024 * 1024;

/// Yields `remaining` pseudo-random bytes without holding them.
struct Source {
    block: Vec<u8>,
    remaining: u64,
}

impl Source {
    fn new(len: u64) -> Self {
        Self {
            block: (0..65_536u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            remaining: len,
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.block.len()).min(self.remaining as usize);
        buf[..n].copy_from_slice(&self.block[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn key() -> AttachmentKey {
    let unit = EncryptionSecretKey::generate().expect("key");
    let case = tipline_core::codename::Codename::generate()
        .expect("codename")
        .derive()
        .expect("case");
    let report = Report {
        category: "other".into(),
        text: "benchmark".into(),
        when: None,
        place: None,
        people: vec![],
        contact: None,
        language: "en".into(),
        attachments: vec![],
        case_id: case.case_id,
        reply_key: case.reply_key.public_key(),
    };
    let sealed = seal_report(&report, "bench", &unit.public_key()).expect("seal");
    AttachmentKey::derive(&sealed.context, 0).expect("derive")
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report_memory(key: &AttachmentKey) {
    let before = peak_rss_kib();
    attachment::encrypt(key, &mut Source::new(MIB), &mut io::sink()).expect("encrypt");
    let after_1 = peak_rss_kib();
    attachment::encrypt(key, &mut Source::new(64 * MIB), &mut io::sink()).expect("encrypt");
    let after_64 = peak_rss_kib();
    match (before, after_1, after_64) {
        (Some(b), Some(a1), Some(a64)) => eprintln!(
            "attachment memory: peak RSS {b} KiB at start, {a1} KiB after 1 MiB, {a64} KiB after 64 MiB \
             (growth {} KiB for 1 MiB, {} KiB more for 64 MiB)",
            a1 - b,
            a64 - a1
        ),
        _ => eprintln!("attachment memory: /proc/self/status not available on this system"),
    }
}

fn bench_attachment(c: &mut Criterion) {
    let key = key();
    report_memory(&key);
    let mut group = c.benchmark_group("attachment");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(64 * MIB));
    group.bench_function("encrypt_64MiB", |b| {
        b.iter_batched(
            || Source::new(64 * MIB),
            |mut source| attachment::encrypt(&key, &mut source, &mut io::sink()).expect("encrypt"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_attachment);
criterion_main!(benches);
