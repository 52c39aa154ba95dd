//! A proptest fuzz harness for the model reader: random bytes, random valid models with random
//! byte mutations (CRC re-fixed, so the structure checks are reached), truncations and splices.
//! Property: `Model::parse` never panics, and every blob it accepts (within the size limits of
//! `docs/model-format.md`, asserted) runs through the runner without panicking and bit-exactly
//! equal to the reference loops. The whole path (host integer model and export included) with
//! a long-run mode is `host/tests/fuzz_whole_path.rs`.
//!
//! Executions: `FUZZ_CASES` (default 100000) per strategy family; the count actually run is
//! printed (`cargo test -p firmware --test fuzz_reader -- --nocapture`).

mod common;

use common::{blob, fix_crc, random_model, reference_run, Out, Rng};
use firmware::backend::SoftwareBackend;
use firmware::model::{Model, MAX_ACTIVATION_BYTES, MAX_MACS};
use firmware::runner::{arena_bytes, run};
use proptest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static EXECS: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Parses; if accepted, runs and compares with the reference.
fn exercise(bytes: &[u8], img_seed: u64) {
    EXECS.fetch_add(1, Relaxed);
    let _ = Model::parse_prefix(bytes);
    let Ok(m) = Model::parse(bytes) else { return };
    ACCEPTED.fetch_add(1, Relaxed);
    // nothing is skipped: the reader's size limits bound what an accepted blob can ask for
    let macs: u64 = m.layers().map(|l| l.macs()).sum();
    assert!(arena_bytes(&m) <= 2 * MAX_ACTIVATION_BYTES + 3);
    assert!(macs <= MAX_MACS);
    let input = Rng::new(img_seed).bytes(m.input_shape().len());
    let mut arena = vec![0u8; arena_bytes(&m)];
    let mut logits = vec![0i32; m.n_classes()];
    run(
        &m,
        &input,
        &mut arena,
        &mut SoftwareBackend,
        &mut logits,
        &mut (),
    )
    .expect("accepted model runs");
    match reference_run(&m, &input).last() {
        Some(Out::Logits(l)) => assert_eq!(&logits, l),
        other => panic!("last output {other:?}"),
    }
}

fn mutate(b: &mut Vec<u8>, r: &mut Rng) {
    for _ in 0..r.usize(1, 4) {
        if b.is_empty() {
            return;
        }
        let i = r.usize(0, b.len() - 1);
        match r.usize(0, 5) {
            0 => b[i] ^= 1 << r.usize(0, 7),
            1 => b[i] = r.next() as u8,
            2 => b[i] = [0, 1, 0x7F, 0x80, 0xFF][r.usize(0, 4)],
            3 => {
                // a plausible small little-endian word at an aligned spot
                let a = i & !3;
                if a + 4 <= b.len() {
                    let v = r.range(0, 300) as u32;
                    b[a..a + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            4 => b.truncate(i),
            _ => {
                let n = r.usize(1, 8);
                b.splice(i..i, r.bytes(n));
            }
        }
    }
}

fn one_case(seed: u64, kind: u8) {
    let mut r = Rng::new(seed);
    let mut b = match kind {
        // random bytes behind a valid magic/version, so parsing gets past the first check
        0 => {
            let n = r.usize(0, 400);
            let mut b = r.bytes(n);
            if b.len() >= 8 {
                b[..6].copy_from_slice(b"CNNF\x01\x00");
            }
            b
        }
        _ => blob(&random_model(r.next())),
    };
    if kind != 3 || r.chance(80) {
        mutate(&mut b, &mut r);
    }
    if kind <= 1 {
        // header total_len = actual length, then fix the CRC: the structure checks are reached
        if b.len() >= 12 {
            let n = b.len() as u32;
            b[8..12].copy_from_slice(&n.to_le_bytes());
        }
        fix_crc(&mut b);
    }
    exercise(&b, r.next());
}

#[test]
fn fuzz_reader() {
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let before = (EXECS.load(Relaxed), ACCEPTED.load(Relaxed));
    let result = runner.run(&(any::<u64>(), 0u8..4), |(seed, kind)| {
        one_case(seed, kind);
        Ok(())
    });
    eprintln!(
        "fuzz_reader: {} executions, {} blobs accepted (and run against the reference)",
        EXECS.load(Relaxed) - before.0,
        ACCEPTED.load(Relaxed) - before.1
    );
    result.unwrap();
}

#[test]
fn pure_random_bytes_are_rejected() {
    let mut r = Rng::new(0x5EED);
    for _ in 0..20_000 {
        let n = r.usize(0, 64);
        let b = r.bytes(n);
        assert!(Model::parse(&b).is_err());
    }
}
