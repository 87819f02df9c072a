//! Sealing benchmarks: our HPKE against rust-hpke (the `hpke` crate) on a 2 KiB report, then
//! (to come) the envelope and attachment layers.
//!
//! Run: `cargo bench -p tipline-core --bench sealing -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS};
use tipline_core::crypto::kem::derive_key_pair;
use tipline_core::crypto::{OsRandom, Suite};
use x25519_dalek::{PublicKey, StaticSecret};

type Kem = X25519HkdfSha256;
type HpkePrivateKey = <Kem as hpke::Kem>::PrivateKey;
type HpkePublicKey = <Kem as hpke::Kem>::PublicKey;
type HpkeEnc = <Kem as hpke::Kem>::EncappedKey;

const PT_LEN: usize = 2048;
const INFO: &[u8] = b"tipline report v1";
const AAD: &[u8] = b"tipline benchmark aad";

/// rand 0.8's `OsRng` as the `rand_core` 0.9 generator that rust-hpke 0.13 takes.
struct OsRng09;

impl hpke::rand_core::RngCore for OsRng09 {
    fn next_u32(&mut self) -> u32 {
        rand::RngCore::next_u32(&mut rand::rngs::OsRng)
    }
    fn next_u64(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut rand::rngs::OsRng)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, dst)
    }
}

impl hpke::rand_core::CryptoRng for OsRng09 {}

/// A fixed recipient, in both libraries' types, and a 2 KiB plaintext.
struct Fixture {
    sk: StaticSecret,
    pk: PublicKey,
    hpke_sk: HpkePrivateKey,
    hpke_pk: HpkePublicKey,
    pt: Vec<u8>,
}

fn fixture() -> Fixture {
    let (sk, pk) = derive_key_pair(b"tipline benchmark recipient").expect("derive");
    Fixture {
        hpke_sk: HpkePrivateKey::from_bytes(&sk.to_bytes()).expect("hpke secret key"),
        hpke_pk: HpkePublicKey::from_bytes(pk.as_bytes()).expect("hpke public key"),
        sk,
        pk,
        pt: (0..PT_LEN).map(|i| i as u8).collect(),
    }
}

fn bench_hpke_seal(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("seal_2KiB");
    group.throughput(Throughput::Bytes(PT_LEN as u64));
    group.bench_function("tipline", |b| {
        let mut rng = OsRandom::new();
        b.iter(|| {
            Suite::X25519_CHACHA
                .seal_with_rng(black_box(&f.pk), INFO, AAD, black_box(&f.pt), &mut rng)
                .expect("seal")
        })
    });
    group.bench_function("rust-hpke", |b| {
        b.iter(|| {
            hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
                &OpModeS::Base,
                black_box(&f.hpke_pk),
                INFO,
                black_box(&f.pt),
                AAD,
                &mut OsRng09,
            )
            .expect("seal")
        })
    });
    group.finish();
}

fn bench_hpke_open(c: &mut Criterion) {
    let f = fixture();
    // One message, sealed once; both libraries open the same bytes.
    let (enc, ct) = Suite::X25519_CHACHA
        .seal_with_rng(&f.pk, INFO, AAD, &f.pt, &mut OsRandom::new())
        .expect("seal");
    let mut group = c.benchmark_group("open_2KiB");
    group.throughput(Throughput::Bytes(PT_LEN as u64));
    group.bench_function("tipline", |b| {
        b.iter(|| {
            Suite::X25519_CHACHA
                .open(black_box(&enc), &f.sk, INFO, AAD, black_box(&ct))
                .expect("open")
        })
    });
    group.bench_function("rust-hpke", |b| {
        b.iter(|| {
            let enc = HpkeEnc::from_bytes(black_box(&enc)).expect("enc");
            hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
                &OpModeR::Base,
                &f.hpke_sk,
                &enc,
                INFO,
                black_box(&ct),
                AAD,
            )
            .expect("open")
        })
    });
    group.finish();
}

/// The whole path a phone runs for a 2 KiB tip: validate, serialise, pad, seal into an envelope.
fn bench_envelope_seal(c: &mut Criterion) {
    let unit = tipline_core::keys::EncryptionSecretKey::generate().expect("unit key");
    let case = tipline_core::codename::Codename::generate()
        .expect("codename")
        .derive()
        .expect("case");
    let report = tipline_core::report::Report {
        category: "radicalisation".into(),
        text: "x".repeat(PT_LEN),
        when: None,
        place: None,
        people: vec![],
        contact: None,
        language: "en".into(),
        attachments: vec![],
        case_id: case.case_id,
        reply_key: case.reply_key.public_key(),
    };
    let mut group = c.benchmark_group("envelope");
    group.throughput(Throughput::Bytes(PT_LEN as u64));
    group.bench_function("seal_report_2KiB", |b| {
        b.iter(|| {
            tipline_core::envelope::seal_report(black_box(&report), "bench-unit", &unit.public_key())
                .expect("seal")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_hpke_seal, bench_hpke_open, bench_envelope_seal,);
criterion_main!(benches);
