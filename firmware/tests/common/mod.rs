//! Shared test helpers: a seeded random model generator, the reference runner built from the
//! plain loops in `firmware::numerics`, and blob surgery.
#![allow(dead_code)]

use firmware::crc::crc32;
use firmware::model::{encode, encode_p_row, LayerDesc, LayerKind, Model, ModelDesc, Shape};
use firmware::numerics::{self, PCode, Requant};
use firmware::rng::SplitMix64;

/// The project's SplitMix64 ([`SplitMix64`], seeds come from proptest) with model-shaped
/// helpers on top.
pub struct Rng(pub SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.range_i64(lo, hi)
    }
    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.0.usize(lo, hi)
    }
    pub fn chance(&mut self, percent: u32) -> bool {
        self.0.chance(percent)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    pub fn weights(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range(-127, 127) as i8).collect()
    }
    pub fn bias(&mut self, n: usize) -> Vec<i32> {
        (0..n).map(|_| self.range(-40_000, 40_000) as i32).collect()
    }
    /// Valid requantisation, biased towards shifts that give unsaturated outputs.
    pub fn rq(&mut self, n: usize) -> Vec<Requant> {
        (0..n)
            .map(|_| {
                if self.chance(10) {
                    // extremes
                    Requant {
                        m: [0, 1, numerics::MULT_MAX][self.usize(0, 2)],
                        shift: [1, 2, 31, 47][self.usize(0, 3)],
                    }
                } else {
                    Requant {
                        m: self.range(1, 32767) as u16,
                        shift: self.range(12, 26) as u8,
                    }
                }
            })
            .collect()
    }
    /// A P-layer weight row in units of 2^n2: mostly zero, else ±2^s.
    pub fn p_row(&mut self, n_in: usize, bits: u8) -> Vec<i32> {
        let max_s = i64::from(PCode::max_shift(bits).min(8));
        let density = self.range(0, 100) as u32;
        (0..n_in)
            .map(|_| {
                if self.chance(density) {
                    let v = 1i32 << self.range(0, max_s);
                    if self.chance(50) {
                        -v
                    } else {
                        v
                    }
                } else {
                    0
                }
            })
            .collect()
    }
}

fn p_layer(r: &mut Rng, li: u16, n_in: usize, n_out: usize, last: bool) -> LayerDesc {
    let bits = r.range(2, 7) as u8;
    let mut entries = Vec::new();
    let row_len = (0..n_out)
        .map(|_| encode_p_row(li, &r.p_row(n_in, bits), bits, &mut entries).unwrap())
        .collect();
    LayerDesc::DenseP {
        n_in,
        n_out,
        bits,
        n2: r.range(-12, 0) as i8,
        row_len,
        entries,
        bias: r.bias(n_out),
        rq: if last { None } else { Some(r.rq(n_out)) },
    }
}

fn dense_layer(r: &mut Rng, li: u16, n_in: usize, n_out: usize, last: bool) -> LayerDesc {
    if r.chance(40) {
        return p_layer(r, li, n_in, n_out, last);
    }
    LayerDesc::Dense {
        n_in,
        n_out,
        weights: r.weights(n_in * n_out),
        bias: r.bias(n_out),
        rq: if last { None } else { Some(r.rq(n_out)) },
    }
}

/// A small random valid model: 0-2 convolutions, 0-1 hidden dense, a final dense.
pub fn random_model(seed: u64) -> ModelDesc {
    let mut r = Rng::new(seed);
    let input = Shape {
        h: r.usize(1, 9),
        w: r.usize(1, 9),
        c: r.usize(1, 3),
    };
    let mut shape = input;
    let mut layers = Vec::new();
    for _ in 0..r.usize(0, 2) {
        let kmax = shape.h.min(shape.w).min(4);
        let k = r.usize(1, kmax);
        let (ch, cw) = (shape.h + 1 - k, shape.w + 1 - k);
        let pool = ch >= 2 && cw >= 2 && r.chance(50);
        let cout = r.usize(1, 5);
        layers.push(LayerDesc::Conv {
            k: k as u8,
            cin: shape.c,
            cout,
            pool,
            weights: r.weights(cout * k * k * shape.c),
            bias: r.bias(cout),
            rq: r.rq(cout),
        });
        shape = if pool {
            Shape {
                h: ch / 2,
                w: cw / 2,
                c: cout,
            }
        } else {
            Shape {
                h: ch,
                w: cw,
                c: cout,
            }
        };
    }
    let mut n_in = shape.h * shape.w * shape.c;
    if r.chance(50) {
        let n_out = r.usize(1, 12);
        let li = layers.len() as u16;
        layers.push(dense_layer(&mut r, li, n_in, n_out, false));
        n_in = n_out;
    }
    let n_classes = r.usize(1, 6);
    let li = layers.len() as u16;
    layers.push(dense_layer(&mut r, li, n_in, n_classes, true));
    ModelDesc {
        input,
        class_names: (0..n_classes).map(|i| format!("class-{i}")).collect(),
        logit_scale: 0.125,
        layers,
    }
}

/// Encodes, panicking on error (test helper).
pub fn blob(desc: &ModelDesc) -> Vec<u8> {
    encode(desc).expect("valid description")
}

/// Rewrites the trailing CRC so a mutated blob gets past the checksum to the structure checks.
pub fn fix_crc(b: &mut [u8]) {
    if b.len() >= 4 {
        let n = b.len() - 4;
        let c = crc32(&b[..n]);
        b[n..].copy_from_slice(&c.to_le_bytes());
    }
}

/// Output of every layer: u8 activations for hidden layers, i32 logits last.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    Act(Vec<u8>),
    Logits(Vec<i32>),
}

/// Runs a parsed model with the reference loops of `firmware::numerics`, layer by layer.
pub fn reference_run(model: &Model<'_>, input: &[u8]) -> Vec<Out> {
    let mut outs = Vec::new();
    let mut x = input.to_vec();
    for layer in model.layers() {
        let bias: Vec<i32> = layer.bias.iter().collect();
        let rq: Option<Vec<Requant>> = layer.rq.map(|q| q.iter().collect());
        let n_out = layer.output.len();
        let mut acc = vec![0i32; n_out];
        match layer.kind {
            LayerKind::Conv { k, cin, cout, pool } => {
                let mut y = vec![0u8; n_out];
                let s = layer.input;
                numerics::conv2d(
                    &x,
                    s.h,
                    s.w,
                    cin,
                    layer.weights,
                    &bias,
                    rq.as_ref().unwrap(),
                    usize::from(k),
                    cout,
                    pool,
                    &mut y,
                );
                x = y;
                outs.push(Out::Act(x.clone()));
                continue;
            }
            LayerKind::Dense { .. } => numerics::dense_acc(&x, layer.weights, &bias, &mut acc),
            LayerKind::DenseP { bits, .. } => {
                let rows: Vec<u16> = layer.row_len.iter().collect();
                numerics::dense_p_acc(&x, layer.entries, &rows, bits, &bias, &mut acc)
            }
        }
        match rq {
            Some(rq) => {
                let mut y = vec![0u8; n_out];
                numerics::requantize_all(&acc, &rq, &mut y);
                x = y;
                outs.push(Out::Act(x.clone()));
            }
            None => outs.push(Out::Logits(acc)),
        }
    }
    outs
}
