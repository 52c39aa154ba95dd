//! One conformance suite, several backends: every backend computes the same conv layers and
//! must equal `firmware::numerics::conv2d` bit for bit.
//!
//! Backends: the engine's algorithm in software (5 and 8 lanes), the Verilated RTL with the
//! shipped parameters under three memory timings (SoC one-wait-state, zero-wait, random stalls
//! with unaligned arrays), and an 8-lane RTL build.
//!
//! `SIM_CASES=5000 cargo test -p sim --release --test conformance` runs the full random suite
//! (default 200 cases per backend); `SIM_SEED` changes the seed; `SIM_TRACE=path.fst` traces.

use firmware::numerics::{Requant, MULT_MAX, SHIFT_MAX, SHIFT_MIN};
use sim::conv::{BoardModel, ConvBackend, DefaultModel, L8Model, ModelBackend, RtlBackend, Stalls};
use sim::layer::ConvLayer;
use sim::rng::Rng;

fn cases() -> usize {
    std::env::var("SIM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn seed() -> u64 {
    std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_C0DE)
}

/// Runs `layer` on `b` (if supported) and compares with the golden model.
fn check(b: &mut dyn ConvBackend, layer: &ConvLayer, what: &str) -> bool {
    if !b.supports(layer) {
        return false;
    }
    let got = b.conv(layer);
    let want = layer.reference();
    if got != want {
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "{}: {what}: {}x{}x{} k{} cout{} pool{}: output differs from numerics::conv2d \
             (len {} vs {}, first difference at byte {first:?})",
            b.name(),
            layer.ih,
            layer.iw,
            layer.cin,
            layer.k,
            layer.cout,
            layer.pool,
            got.len(),
            want.len()
        );
    }
    true
}

/// Reports how many of a test's cases ran (the rest were unsupported by the backend and
/// skipped) and fails when none ran: a test whose cases are all skipped checks nothing.
fn require_ran(backend: &str, test: &str, ran: usize, total: usize) {
    eprintln!(
        "{backend}: {test}: {ran} of {total} cases ran, {} skipped (unsupported)",
        total - ran
    );
    assert!(
        ran > 0,
        "{backend}: {test}: all {total} cases were skipped as unsupported, nothing was checked"
    );
}

/// A random layer with shapes drawn around the hardware limits.
fn random_layer(rng: &mut Rng) -> ConvLayer {
    let k = [1, 2, 3, 3, 3, 4, 5, 5, 5][rng.usize(0, 8)];
    let ih = rng.usize(k, k + 9);
    let iw = rng.usize(k, k + 9);
    let cin = if rng.chance(10) {
        rng.usize(1, 512 / (k * k))
    } else {
        rng.usize(1, 8)
    };
    let cout = rng.usize(1, 22);
    let pool = rng.chance(50);
    ConvLayer::random(rng, ih, iw, cin, cout, k, pool)
}

/// Layers with every extreme of the quantisation contract.
fn extreme_layers(rng: &mut Rng) -> Vec<ConvLayer> {
    let mut v = Vec::new();
    for &(m, shift) in &[
        (0, 1),
        (1, SHIFT_MIN),
        (MULT_MAX, SHIFT_MIN),
        (MULT_MAX, SHIFT_MAX),
        (1, SHIFT_MAX),
        (MULT_MAX, 20),
        (1 << 14, 15),
    ] {
        for &(a, w, b) in &[
            (255u8, 127i8, i32::MAX),
            (255, -127, i32::MIN),
            (255, 127, 0),
            (255, -127, 0),
            (0, 0, -1),
            (1, 1, 0),
        ] {
            let pool = rng.chance(50);
            let mut l = ConvLayer::random(rng, 6, 7, 3, 6, 3, pool);
            l.input.fill(a);
            l.weights.fill(w);
            l.bias.fill(b);
            l.rq = (0..l.cout).map(|_| Requant { m, shift }).collect();
            v.push(l);
        }
    }
    // mixed per-channel extremes in one layer, saturation both ways
    let mut l = ConvLayer::random(rng, 9, 9, 4, 10, 5, false);
    l.rq = (0..10)
        .map(|i| {
            [
                Requant { m: 0, shift: 1 },
                Requant {
                    m: MULT_MAX,
                    shift: 1,
                },
                Requant { m: 1, shift: 47 },
            ][i % 3]
        })
        .collect();
    v.push(l);
    v
}

/// Shapes at the edges: 1x1 kernels, outputs of one pixel, pooling of a 1-wide map (empty
/// output), odd conv outputs (floor pooling), cout not a multiple of the lanes, the largest
/// weight block.
fn edge_layers(rng: &mut Rng) -> Vec<ConvLayer> {
    let shapes: &[(usize, usize, usize, usize, usize, bool)] = &[
        (1, 1, 1, 1, 1, false),
        (5, 5, 1, 1, 5, false),
        (5, 5, 3, 7, 5, true),  // conv 1x1 -> pooled 0x0
        (6, 6, 2, 5, 5, true),  // conv 2x2 -> pooled 1x1
        (7, 9, 2, 11, 3, true), // odd conv output 5x7 -> 2x3
        (8, 8, 1, 1, 1, false),
        (4, 12, 3, 6, 2, false),
        (6, 6, 20, 5, 5, true), // k*k*cin = 500 (5-lane buffer limit is 512)
        (5, 5, 128, 3, 2, false),
        (3, 40, 1, 16, 3, false),
    ];
    shapes
        .iter()
        .map(|&(ih, iw, cin, cout, k, pool)| ConvLayer::random(rng, ih, iw, cin, cout, k, pool))
        .collect()
}

/// The paper CNN's two conv layers, random weights.
fn paper_layers(rng: &mut Rng) -> Vec<ConvLayer> {
    vec![
        ConvLayer::random(rng, 64, 64, 3, 10, 3, true),
        ConvLayer::random(rng, 31, 31, 10, 20, 5, true),
    ]
}

/// The extreme-quantisation cases on `b`; returns how many ran (fails when none did).
fn extreme_quantisation_on(b: &mut dyn ConvBackend) -> usize {
    let mut rng = Rng::new(seed() ^ 1);
    let layers = extreme_layers(&mut rng);
    let ran = layers
        .iter()
        .enumerate()
        .filter(|(i, l)| check(b, l, &format!("extreme case {i}")))
        .count();
    require_ran(&b.name(), "extreme_quantisation", ran, layers.len());
    ran
}

/// The edge-shape cases on `b`; returns how many ran (fails when none did).
fn edge_shapes_on(b: &mut dyn ConvBackend) -> usize {
    let mut rng = Rng::new(seed() ^ 2);
    let layers = edge_layers(&mut rng);
    let ran = layers
        .iter()
        .enumerate()
        .filter(|(i, l)| check(b, l, &format!("edge case {i}")))
        .count();
    require_ran(&b.name(), "edge_shapes", ran, layers.len());
    ran
}

/// A backend that supports no layer: every case of it is skipped.
struct SupportsNothing;

impl ConvBackend for SupportsNothing {
    fn name(&self) -> String {
        "supports nothing".into()
    }
    fn supports(&self, _: &ConvLayer) -> bool {
        false
    }
    fn conv(&mut self, _: &ConvLayer) -> Vec<u8> {
        unreachable!("never supported")
    }
}

#[test]
#[should_panic(expected = "all 43 cases were skipped")]
fn extreme_quantisation_fails_when_every_case_is_skipped() {
    extreme_quantisation_on(&mut SupportsNothing);
}

#[test]
#[should_panic(expected = "all 10 cases were skipped")]
fn edge_shapes_fails_when_every_case_is_skipped() {
    edge_shapes_on(&mut SupportsNothing);
}

#[test]
fn every_case_runs_on_the_software_model() {
    let mut b = ModelBackend { lanes: 5 };
    assert_eq!(extreme_quantisation_on(&mut b), 43);
    assert_eq!(edge_shapes_on(&mut b), 10);
}

macro_rules! conformance_suite {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            fn backend() -> Box<dyn ConvBackend> {
                $make
            }

            #[test]
            fn random_cases() {
                let mut b = backend();
                let mut rng = Rng::new(seed());
                let mut ran = 0;
                for i in 0..cases() {
                    ran += usize::from(check(
                        b.as_mut(),
                        &random_layer(&mut rng),
                        &format!("random case {i} (seed {:#x})", seed()),
                    ));
                }
                assert!(
                    ran >= cases() * 3 / 4,
                    "only {ran} of {} cases were supported",
                    cases()
                );
            }

            #[test]
            fn extreme_quantisation() {
                extreme_quantisation_on(backend().as_mut());
            }

            #[test]
            fn edge_shapes() {
                edge_shapes_on(backend().as_mut());
            }

            #[test]
            fn paper_cnn_layers() {
                let mut b = backend();
                let mut rng = Rng::new(seed() ^ 3);
                for (i, l) in paper_layers(&mut rng).iter().enumerate() {
                    assert!(
                        check(b.as_mut(), l, &format!("paper conv{}", i + 1)),
                        "paper layer unsupported"
                    );
                }
            }
        }
    };
}

conformance_suite!(software_model_5_lanes, Box::new(ModelBackend { lanes: 5 }));
conformance_suite!(software_model_8_lanes, Box::new(ModelBackend { lanes: 8 }));
conformance_suite!(rtl_soc_timing, Box::new(RtlBackend::<DefaultModel>::new(1)));
conformance_suite!(rtl_zero_wait, {
    let mut b = RtlBackend::<DefaultModel>::new(2);
    b.engine.stalls = Stalls::ZERO_WAIT;
    Box::new(b)
});
conformance_suite!(rtl_random_stalls_unaligned, {
    let mut b = RtlBackend::<DefaultModel>::new(3);
    b.engine.stalls = Stalls::RANDOM;
    b.engine.unaligned = true;
    Box::new(b)
});
conformance_suite!(rtl_board_1_lane_fifo2, {
    let mut b = RtlBackend::<BoardModel>::new(5);
    b.engine.stalls = Stalls::SOC;
    b.engine.unaligned = true;
    Box::new(b)
});
conformance_suite!(rtl_8_lanes, {
    let mut b = RtlBackend::<L8Model>::new(4);
    b.engine.stalls = Stalls {
        min_wait: 0,
        ready_percent: 60,
    };
    Box::new(b)
});
