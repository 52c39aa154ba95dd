//! Whole-path fuzzing of model blobs: every mutant goes through the firmware reader
//! (`Model::parse`, `parse_prefix`), and every blob the reader accepts runs through the host's
//! integer evaluation (`IntModel::from_blob`, `evaluate_int` as `cnnfpga eval` calls it,
//! `run_observed`, `export::export_files`)
//! and the firmware runner (`firmware::runner::run` with the software backend, in an arena of
//! exactly `arena_bytes`), and must equal the reference loops of `firmware::numerics` layer by
//! layer. Nothing is skipped: the reader's size limits (`docs/model-format.md`, "Limits") are
//! the memory cap, asserted for every accepted blob (arena, input, MACs).
//!
//! Mutants start from real blobs (random valid models from the encoder, and now and then the
//! shipped `models/animals5-cnn-int/model.blob`) and get 1-4 mutations: structure-aware ones
//! (header fields, layer-record fields, array bytes, a consistent re-shaping of the input with
//! the dense `n_in` fields re-chained) and raw ones (bit flips, random bytes, truncation,
//! insertion). Nine mutants in ten then get `total_len` and the CRC fixed, so the structure
//! checks behind the CRC are reached; the rest test the length and CRC checks.
//!
//! Knobs: `FUZZ_EXECS` (default 20000, the CI run), `FUZZ_SEED` (default 14). Every execution
//! has its own seed (printed if it panics); `FUZZ_ONE=<exec seed>` replays one. The long run
//! and its numbers are in `docs/robustness.md` ("Model blobs").

#[path = "../../firmware/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::{blob, fix_crc, random_model, reference_run, Out, Rng};
use firmware::backend::SoftwareBackend;
use firmware::model::{
    Model, HEADER_LEN, LAYER_RECORD_LEN, MAX_ACTIVATION_BYTES, MAX_LAYERS, MAX_MACS,
};
use firmware::runner::{arena_bytes, run};
use host::data::Dataset;
use host::qmodel::export::export_files;
use host::qmodel::{evaluate_int, CaptureObserver, IntModel, QModelError};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one execution did.
#[derive(Default)]
struct Stats {
    execs: u64,
    accepted: u64,
    max_arena: usize,
    max_macs: u64,
    /// Rejections per `FormatError::code()`.
    rejected: [u64; 32],
}

/// Runs `bytes` through the whole path; returns true if the reader accepted it.
fn exercise(bytes: &[u8], img_seed: u64, stats: &mut Stats) -> bool {
    let _ = Model::parse_prefix(bytes);
    let parsed = Model::parse(bytes);
    let host = IntModel::from_blob(bytes.to_vec(), "fuzz");
    let m = match parsed {
        Err(e) => {
            // the host refuses with the reader's error
            match host {
                Err(QModelError::Blob { error, code, .. }) => {
                    assert_eq!(error, e);
                    assert_eq!(code, e.code());
                    stats.rejected[usize::from(code).min(31)] += 1;
                }
                other => panic!("reader said {e}, host said {other:?}"),
            }
            return false;
        }
        Ok(m) => m,
    };
    let host = host.expect("the host accepts what the reader accepts");
    // the memory cap: the reader's limits hold for everything it accepts
    let arena = arena_bytes(&m);
    let macs: u64 = m.layers().map(|l| l.macs()).sum();
    assert!(arena <= 2 * MAX_ACTIVATION_BYTES + 3, "arena {arena}");
    assert!(m.input_shape().len() <= MAX_ACTIVATION_BYTES);
    assert!(macs <= MAX_MACS, "macs {macs}");
    stats.max_arena = stats.max_arena.max(arena);
    stats.max_macs = stats.max_macs.max(macs);

    let input = Rng::new(img_seed).bytes(m.input_shape().len());
    let reference = reference_run(&m, &input);
    let Some(Out::Logits(want)) = reference.last() else {
        panic!("last reference output {:?}", reference.last())
    };

    // firmware runner, arena of exactly the advertised size
    let mut arena_buf = vec![0u8; arena];
    let mut logits = vec![0i32; m.n_classes()];
    let info = run(
        &m,
        &input,
        &mut arena_buf,
        &mut SoftwareBackend,
        &mut logits,
        &mut (),
    )
    .expect("accepted model runs");
    assert_eq!(&logits, want);

    // host integer evaluation (what `cnnfpga eval` runs: batch runner, dequantised softmax,
    // metrics) and the observed path (every layer)
    let ds = Dataset {
        classes: host.classes().to_vec(),
        images: vec![input.clone()],
        labels: vec![0],
        paths: vec![PathBuf::from("fuzz")],
    };
    let (metrics, out) = evaluate_int(&host, &ds).expect("host eval");
    assert_eq!(&out[0].logits, want);
    assert_eq!(out[0].class, info.class);
    assert_eq!(metrics.accuracy, if info.class == 0 { 1.0 } else { 0.0 });
    let mut obs = CaptureObserver::default();
    host.run_observed(&input, &mut obs, 0).expect("host run");
    assert_eq!(obs.layers.len(), reference.len());
    for ((_, got), want) in obs.layers.iter().zip(&reference) {
        let want: Vec<u8> = match want {
            Out::Act(a) => a.clone(),
            Out::Logits(l) => l.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        assert_eq!(got, &want);
    }
    // host export (without vectors): refuses only with a one-line configuration error
    match export_files(&host, None, None) {
        Ok(files) => assert_eq!(files[0].1, bytes),
        Err(QModelError::Config(msg)) => assert!(!msg.contains('\n'), "{msg}"),
        Err(e) => panic!("export: {e}"),
    }
    stats.accepted += 1;
    true
}

/// Values that sit on boundaries of the format's fields and limits.
fn interesting(r: &mut Rng) -> u32 {
    const V: [u32; 24] = [
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        16,
        127,
        128,
        255,
        256,
        1023,
        1024,
        4096,
        32767,
        32768,
        65535,
        65536,
        1 << 20,
        (1 << 20) + 1,
        1 << 28,
        0x7FFF_FFFF,
        u32::MAX,
    ];
    match r.usize(0, 3) {
        0 => r.next() as u32,
        1 => r.range(0, 300) as u32,
        _ => V[r.usize(0, V.len() - 1)],
    }
}

fn rd32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn put(b: &mut [u8], at: usize, v: u32, width: usize) {
    if let Some(s) = b.get_mut(at..at + width) {
        s.copy_from_slice(&v.to_le_bytes()[..width]);
    }
}

/// Header fields (offset, width) of `docs/model-format.md`.
const HEADER_FIELDS: [(usize, usize); 11] = [
    (4, 2),
    (6, 2),
    (8, 4),
    (12, 2),
    (14, 2),
    (16, 2),
    (18, 2),
    (20, 4),
    (24, 2),
    (28, 4),
    (32, 4),
];
/// Layer-record fields (offset, width).
const RECORD_FIELDS: [(usize, usize); 13] = [
    (0, 1),
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 4),
    (8, 4),
    (12, 4),
    (16, 4),
    (20, 4),
    (24, 4),
    (28, 4),
    (32, 4),
    (36, 4),
];

/// The layer table's position and length, if the header's fields are plausible.
fn table(b: &[u8]) -> Option<(usize, usize)> {
    let off = rd32(b, 32)? as usize;
    let n = usize::from(u16::from_le_bytes(b.get(24..26)?.try_into().ok()?)).min(MAX_LAYERS);
    (off + n * LAYER_RECORD_LEN <= b.len()).then_some((off, n))
}

/// Sets the input height/width (and channels when no convolution depends on them) and
/// re-chains the dense layers' `n_in` through the table, so the shape checks pass and the
/// size limits and the P-row checks are what decides.
fn reshape(b: &mut [u8], r: &mut Rng) {
    if b.len() < HEADER_LEN {
        return;
    }
    let Some((off, n)) = table(b) else { return };
    // mostly small (cheap to run when accepted); now and then large, where the size limits
    // decide (65535 is over every limit, 1024 and 4096 are over or under depending on the
    // layers)
    let pick = |r: &mut Rng| match r.usize(0, 99) {
        0..=69 => r.range(1, 20) as u32,
        70..=94 => [1u32, 2, 3, 5, 8, 16, 32, 64][r.usize(0, 7)],
        _ => [255u32, 1024, 4096, 65535][r.usize(0, 3)],
    };
    let (h, w) = (pick(r), pick(r));
    put(b, 12, h, 2);
    put(b, 14, w, 2);
    let mut shape = (
        u64::from(h),
        u64::from(w),
        u64::from(u16::from_le_bytes([b[16], b[17]])),
    );
    for i in 0..n {
        let rec = off + i * LAYER_RECORD_LEN;
        match b[rec] {
            1 => {
                let k = u64::from(b[rec + 2]).max(1);
                let cout = u64::from(rd32(b, rec + 8).unwrap_or(1));
                if k > shape.0 || k > shape.1 {
                    return;
                }
                let (ch, cw) = (shape.0 + 1 - k, shape.1 + 1 - k);
                shape = if b[rec + 1] & 1 != 0 {
                    (ch / 2, cw / 2, cout)
                } else {
                    (ch, cw, cout)
                };
            }
            _ => {
                let n_in = shape.0 * shape.1 * shape.2;
                put(b, rec + 4, u32::try_from(n_in).unwrap_or(u32::MAX), 4);
                shape = (1, 1, u64::from(rd32(b, rec + 8).unwrap_or(1)));
            }
        }
    }
}

fn mutate(b: &mut Vec<u8>, r: &mut Rng) {
    for _ in 0..r.usize(1, 4) {
        if b.is_empty() {
            return;
        }
        let i = r.usize(0, b.len() - 1);
        match r.usize(0, 10) {
            0 => {
                let (at, wd) = HEADER_FIELDS[r.usize(0, HEADER_FIELDS.len() - 1)];
                let v = interesting(r);
                put(b, at, v, wd);
            }
            1 | 2 => {
                if let Some((off, n)) = table(b) {
                    if n > 0 {
                        let rec = off + r.usize(0, n - 1) * LAYER_RECORD_LEN;
                        let (at, wd) = RECORD_FIELDS[r.usize(0, RECORD_FIELDS.len() - 1)];
                        let v = if r.chance(30) {
                            // nudge the current value
                            let cur = rd32(b, rec + at).unwrap_or(0);
                            cur.wrapping_add(r.range(-4, 4) as u32)
                        } else {
                            interesting(r)
                        };
                        put(b, rec + at, v, wd);
                    }
                }
            }
            3 => {
                // a byte of the arrays (weights, P entries, bias, m, shift, row_len)
                let start = table(b).map_or(HEADER_LEN, |(o, n)| o + n * LAYER_RECORD_LEN);
                if start < b.len() {
                    let at = r.usize(start, b.len() - 1);
                    b[at] = [0, 1, 0x7F, 0x80, 0xFF, r.next() as u8][r.usize(0, 5)];
                }
            }
            4 => reshape(b, r),
            5 => b[i] ^= 1 << r.usize(0, 7),
            6 => b[i] = r.next() as u8,
            7 => b.truncate(i),
            8 => {
                let n = r.usize(1, 8);
                b.splice(i..i, r.bytes(n));
            }
            9 => {
                // a plausible small little-endian word at an aligned spot
                let a = i & !3;
                let v = r.range(0, 300) as u32;
                put(b, a, v, 4);
            }
            _ => {
                // a copy of another chunk (e.g. a layer record over another)
                let j = r.usize(0, b.len() - 1);
                let n = r.usize(1, 40).min(b.len() - i).min(b.len() - j);
                b.copy_within(j..j + n, i);
            }
        }
    }
}

fn one_exec(exec_seed: u64, shipped: &[u8], stats: &mut Stats) {
    let mut r = Rng::new(exec_seed);
    let mut b = if r.next().is_multiple_of(500) {
        shipped.to_vec()
    } else {
        blob(&random_model(r.next()))
    };
    mutate(&mut b, &mut r);
    if r.chance(90) {
        let n = b.len() as u32;
        put(&mut b, 8, n, 4);
        fix_crc(&mut b);
    }
    stats.execs += 1;
    exercise(&b, r.next(), stats);
}

#[test]
fn fuzz_whole_path() {
    let execs = knob("FUZZ_EXECS", 20_000);
    let seed = knob("FUZZ_SEED", 14);
    let shipped = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models/animals5-cnn-int/model.blob"),
    )
    .unwrap();
    let mut stats = Stats::default();
    if let Ok(one) = std::env::var("FUZZ_ONE") {
        one_exec(one.parse().unwrap(), &shipped, &mut stats);
        return;
    }
    let t0 = Instant::now();
    let mut seeds = Rng::new(seed);
    for i in 0..execs {
        let s = seeds.next();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            one_exec(s, &shipped, &mut stats)
        }));
        if let Err(p) = r {
            eprintln!("fuzz_whole_path: execution {i} failed; replay with FUZZ_ONE={s}");
            std::panic::resume_unwind(p);
        }
        if execs >= 1_000_000 && (i + 1) % 1_000_000 == 0 {
            eprintln!(
                "fuzz_whole_path: {} M executions, {:.0} s",
                (i + 1) / 1_000_000,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "fuzz_whole_path: seed {seed}: {} executions, {} accepted and run (host eval, host \
         export, firmware runner, reference), largest arena {} B, most MACs {}, {:.1} s, {:.0} \
         execs/s",
        stats.execs,
        stats.accepted,
        stats.max_arena,
        stats.max_macs,
        secs,
        stats.execs as f64 / secs
    );
    let codes: Vec<String> = (0..32)
        .filter(|&c| stats.rejected[c] > 0)
        .map(|c| format!("{c}:{}", stats.rejected[c]))
        .collect();
    eprintln!(
        "fuzz_whole_path: rejections per error code: {}",
        codes.join(" ")
    );
    assert_eq!(stats.execs, execs);
    // the mutators reach past the CRC: a real share of the mutants is accepted and run
    assert!(
        stats.accepted * 20 >= execs,
        "{} of {execs} accepted",
        stats.accepted
    );
    // ... and the size limits (code 19, `TooLarge`) are among what rejects them
    if execs >= 20_000 {
        assert!(stats.rejected[19] > 0, "no mutant reached the size limits");
    }
}
