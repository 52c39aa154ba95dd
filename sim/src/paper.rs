//! Test models of the paper CNN's shape with random weights (the numbers mean nothing; the
//! shapes make the cycle counts realistic), random images, and the software reference run that
//! sim's tests and benches compare the SoC with.
//!
//! Paper CNN: 64x64x3 -> conv 3x3x10 + pool (31x31x10) -> conv 5x5x20 + pool (13x13x20) ->
//! P dense 3380 -> 64 (4-bit codes) -> dense 64 -> 5 logits.

use firmware::backend::SoftwareBackend;
use firmware::model::{encode, encode_p_row, LayerDesc, Model, ModelDesc, Shape};
use firmware::numerics::{conv_layer_out, Requant};
use firmware::runner::{arena_bytes, run};

use crate::rng::Rng;

/// The paper CNN's layer shapes on an `h x w x 3` input; `density` is the percentage of
/// non-zero P-layer weights (the paper prunes to about 10 %).
pub fn paper_cnn(seed: u64, h: usize, w: usize, density: u32) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let wts = |n: usize, r: &mut Rng| {
        (0..n)
            .map(|_| r.range(0, 254) as i32 - 127)
            .map(|v| v as i8)
            .collect::<Vec<_>>()
    };
    let bias = |n: usize, lim: u64, r: &mut Rng| {
        (0..n)
            .map(|_| r.range(0, 2 * lim) as i32 - lim as i32)
            .collect::<Vec<_>>()
    };
    // requantisation roughly maps the accumulators' spread onto 0..255 (ReLU halves it)
    let rq = |n: usize, m: u16, shift: u8, r: &mut Rng| {
        (0..n)
            .map(|_| Requant {
                m: m - r.range(0, u64::from(m) / 4) as u16,
                shift,
            })
            .collect::<Vec<_>>()
    };
    let (h1, w1) = (conv_layer_out(h, 3, true), conv_layer_out(w, 3, true));
    let (h2, w2) = (conv_layer_out(h1, 5, true), conv_layer_out(w1, 5, true));
    let n_p = h2 * w2 * 20;
    let mut entries = Vec::new();
    let row_len = (0..64)
        .map(|_| {
            let row: Vec<i32> = (0..n_p)
                .map(|_| {
                    if r.chance(density) {
                        let m = 1i32 << r.range(0, 6);
                        if r.chance(50) {
                            -m
                        } else {
                            m
                        }
                    } else {
                        0
                    }
                })
                .collect();
            encode_p_row(2, &row, 4, &mut entries).expect("representable row")
        })
        .collect();
    let desc = ModelDesc {
        input: Shape { h, w, c: 3 },
        class_names: ["bottle", "can", "cup", "box", "none"]
            .map(String::from)
            .to_vec(),
        logit_scale: 1.0 / 1024.0,
        layers: vec![
            LayerDesc::Conv {
                k: 3,
                cin: 3,
                cout: 10,
                pool: true,
                weights: wts(270, &mut r),
                bias: bias(10, 4000, &mut r),
                rq: rq(10, 24_000, 24, &mut r),
            },
            LayerDesc::Conv {
                k: 5,
                cin: 10,
                cout: 20,
                pool: true,
                weights: wts(5000, &mut r),
                bias: bias(20, 8000, &mut r),
                rq: rq(20, 30_000, 25, &mut r),
            },
            LayerDesc::DenseP {
                n_in: n_p,
                n_out: 64,
                bits: 4,
                n2: -6,
                row_len,
                entries,
                bias: bias(64, 2000, &mut r),
                rq: Some(rq(64, 16_384, 20, &mut r)),
            },
            LayerDesc::Dense {
                n_in: 64,
                n_out: 5,
                weights: wts(320, &mut r),
                bias: bias(5, 1000, &mut r),
                rq: None,
            },
        ],
    };
    encode(&desc).expect("valid paper-shaped model")
}

/// A random image of `len` bytes with some spatial structure (smooth gradients + noise).
pub fn image(seed: u64, h: usize, w: usize, c: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let (a, b) = (r.range(1, 7) as usize, r.range(1, 7) as usize);
    let mut v = Vec::with_capacity(h * w * c);
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                v.push(((x * a + y * b + ch * 40) as u64 + r.range(0, 60)) as u8);
            }
        }
    }
    v
}

/// The integer prediction in software: `firmware::runner::run` with [`SoftwareBackend`], as
/// the host's `qmodel::IntModel` runs it (host/tests/sim_cli.rs checks that they agree).
pub fn reference(blob: &[u8], input: &[u8]) -> Result<(usize, Vec<i32>), String> {
    let m = Model::parse(blob).map_err(|e| format!("model: {e}"))?;
    let mut arena = vec![0u8; arena_bytes(&m)];
    let mut logits = vec![0i32; m.n_classes()];
    let info = run(
        &m,
        input,
        &mut arena,
        &mut SoftwareBackend,
        &mut logits,
        &mut (),
    )
    .map_err(|e| format!("{e}"))?;
    Ok((info.class, logits))
}
