//! Throughput and latency benchmarks (results and commands in `docs/benchmarks.md`):
//!
//! ```text
//! cargo bench -p dashledger-protocol --bench protocol
//! ```
//!
//! Keccak-256 and seal/open on a 50 MB buffer (compare with `openssl speed -evp aes-256-gcm`
//! and `openssl speed sha3-256`), Umbral operations, record signing/verification.

use std::hint::black_box;

use alloy::signers::local::PrivateKeySigner;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashledger_protocol::{
    hash::keccak256_reader,
    record::{DeviceId, EvidenceRecord, SegmentTime, SignedRecord},
    seal::{self, SessionKey},
    wrap::{self, KfragSigner, UmbralSecretKey},
};

const CLIP: usize = 50 * 1000 * 1000;

fn clip() -> Vec<u8> {
    (0..CLIP).map(|i| (i * 31 % 251) as u8).collect()
}

fn throughput(c: &mut Criterion) {
    let data = clip();
    let key = SessionKey::generate();
    let mut sealed = Vec::with_capacity(CLIP + CLIP / 1000);
    seal::seal(&data[..], &mut sealed, &key).unwrap();

    let mut g = c.benchmark_group("50MB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(CLIP as u64));
    g.bench_function("keccak256", |b| {
        b.iter(|| keccak256_reader(black_box(&data[..])).unwrap())
    });
    g.bench_function("seal", |b| {
        b.iter(|| seal::seal(black_box(&data[..]), std::io::sink(), &key).unwrap())
    });
    g.bench_function("open", |b| {
        b.iter(|| seal::open(black_box(&sealed[..]), std::io::sink(), &key).unwrap())
    });
    g.finish();
}

fn umbral(c: &mut Criterion) {
    let owner = UmbralSecretKey::generate();
    let requester = UmbralSecretKey::generate();
    let signer = KfragSigner::from_secret_bytes(&[0x42; 32]).unwrap();
    let key = SessionKey::generate();
    let commitment = key.commitment();
    let (opk, rpk, spk) = (
        owner.public_key(),
        requester.public_key(),
        signer.verifying_key(),
    );
    let wrapped = wrap::wrap(&opk, &key).unwrap();
    let kfrag = wrap::grant(&owner, &signer, &rpk);
    let cfrag = wrap::reencrypt(
        &wrapped,
        wrap::verify_kfrag(&kfrag, &spk, &opk, &rpk).unwrap(),
    )
    .to_bytes();

    let mut g = c.benchmark_group("umbral");
    g.sample_size(20);
    g.bench_function("wrap", |b| {
        b.iter(|| wrap::wrap(&opk, black_box(&key)).unwrap())
    });
    g.bench_function("unwrap_own", |b| {
        b.iter(|| wrap::unwrap_own(&owner, black_box(&wrapped), &commitment).unwrap())
    });
    g.bench_function("grant", |b| {
        b.iter(|| wrap::grant(&owner, &signer, black_box(&rpk)))
    });
    g.bench_function("verify_kfrag", |b| {
        b.iter(|| wrap::verify_kfrag(black_box(&kfrag), &spk, &opk, &rpk).unwrap())
    });
    g.bench_function("verify_kfrag+reencrypt", |b| {
        b.iter(|| {
            wrap::reencrypt(
                &wrapped,
                wrap::verify_kfrag(black_box(&kfrag), &spk, &opk, &rpk).unwrap(),
            )
        })
    });
    g.bench_function("verify_cfrag", |b| {
        b.iter(|| wrap::verify_cfrag(black_box(&cfrag), &wrapped, &spk, &opk, &rpk).unwrap())
    });
    g.bench_function("recover (verify kfrag, reencrypt, decrypt, check)", |b| {
        b.iter(|| {
            wrap::recover(
                &requester,
                &opk,
                &spk,
                black_box(&wrapped),
                &kfrag,
                &commitment,
            )
            .unwrap()
        })
    });
    g.finish();
}

fn records(c: &mut Criterion) {
    let k = PrivateKeySigner::random();
    let r = EvidenceRecord {
        seq: 1,
        device: DeviceId::from_address(k.address()),
        start: SegmentTime::from_unix(1_795_446_900).unwrap(),
        prev_hash: Default::default(),
        segment_hash: Default::default(),
    };
    let bytes = r.sign(&k).unwrap().encode();
    let mut g = c.benchmark_group("record");
    g.sample_size(20);
    g.bench_function("sign", |b| b.iter(|| black_box(&r).sign(&k).unwrap()));
    g.bench_function("decode+verify", |b| {
        b.iter(|| {
            SignedRecord::decode(black_box(&bytes))
                .unwrap()
                .verify()
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, throughput, umbral, records);
criterion_main!(benches);
