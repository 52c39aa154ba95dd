//! One conv layer's shapes and data, random generation of test layers, and the golden result
//! from `firmware::numerics::conv2d`.

use firmware::numerics::{conv2d, conv_layer_out, Requant, MULT_MAX, SHIFT_MAX, SHIFT_MIN};

use crate::rng::Rng;

/// A complete NP conv layer: shapes, parameters and input (layouts as in `numerics::conv2d`).
#[derive(Clone, Debug)]
pub struct ConvLayer {
    /// Input height.
    pub ih: usize,
    /// Input width.
    pub iw: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Square kernel size.
    pub k: usize,
    /// Fused 2x2 max-pool.
    pub pool: bool,
    /// `[ih][iw][cin]` u8.
    pub input: Vec<u8>,
    /// `[cout][k][k][cin]` i8.
    pub weights: Vec<i8>,
    /// `[cout]` i32.
    pub bias: Vec<i32>,
    /// `[cout]` requantisation parameters.
    pub rq: Vec<Requant>,
}

impl ConvLayer {
    /// Output `(height, width)` after the optional pooling.
    pub fn out_dims(&self) -> (usize, usize) {
        (
            conv_layer_out(self.ih, self.k, self.pool),
            conv_layer_out(self.iw, self.k, self.pool),
        )
    }

    /// Output length in bytes.
    pub fn out_len(&self) -> usize {
        let (oh, ow) = self.out_dims();
        oh * ow * self.cout
    }

    /// Multiply-accumulates that produce the output (pooled windows included).
    pub fn macs(&self) -> u64 {
        let (oh, ow) = self.out_dims();
        let p = if self.pool { 4 } else { 1 };
        (oh * ow * p * self.k * self.k * self.cin * self.cout) as u64
    }

    /// The golden output: `firmware::numerics::conv2d`.
    pub fn reference(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.out_len()];
        conv2d(
            &self.input,
            self.ih,
            self.iw,
            self.cin,
            &self.weights,
            &self.bias,
            &self.rq,
            self.k,
            self.cout,
            self.pool,
            &mut out,
        );
        out
    }

    /// A layer of the given shape with random data; `style` picks the quantisation regime.
    pub fn random(
        rng: &mut Rng,
        ih: usize,
        iw: usize,
        cin: usize,
        cout: usize,
        k: usize,
        pool: bool,
    ) -> ConvLayer {
        let n_in = ih * iw * cin;
        let n_w = cout * k * k * cin;
        // Sparse or dense activations, small or full-range weights.
        let zero_pct = [0, 30, 90][rng.usize(0, 2)];
        let input = (0..n_in)
            .map(|_| {
                if rng.chance(zero_pct) {
                    0
                } else {
                    rng.next_u64() as u8
                }
            })
            .collect();
        let wmax = [127, 127, 20, 1][rng.usize(0, 3)] as i64;
        let weights = (0..n_w)
            .map(|_| rng.range(0, 2 * wmax as u64) as i64 - wmax)
            .map(|w| w as i8)
            .collect();
        let kkc = (k * k * cin) as i64;
        // Bias of the order of the accumulator spread (sometimes extreme, to exercise wrapping).
        let bias = (0..cout)
            .map(|_| match rng.usize(0, 9) {
                0 => i32::MAX - rng.range(0, 1000) as i32,
                1 => i32::MIN + rng.range(0, 1000) as i32,
                2 => 0,
                _ => (rng.range(0, 2 * (kkc * 128 * wmax) as u64) as i64 - kkc * 128 * wmax) as i32,
            })
            .collect();
        // Multipliers and shifts: extremes, and "realistic" scales that map the spread to ~0..255.
        let rq = (0..cout)
            .map(|_| match rng.usize(0, 9) {
                0 => Requant {
                    m: 0,
                    shift: rng.range(1, 47) as u8,
                },
                1 => Requant {
                    m: 1,
                    shift: SHIFT_MIN,
                },
                2 => Requant {
                    m: MULT_MAX,
                    shift: SHIFT_MIN,
                },
                3 => Requant {
                    m: MULT_MAX,
                    shift: SHIFT_MAX,
                },
                4 => Requant {
                    m: rng.range(0, u64::from(MULT_MAX)) as u16,
                    shift: rng.range(1, 47) as u8,
                },
                _ => {
                    // scale ~ 255 / (kkc*128*wmax/4) as m / 2^shift with m in [2^14, 2^15)
                    let spread = (kkc * 128 * wmax / 4).max(1) as f64;
                    let scale = 255.0 / spread * (0.5 + rng.range(0, 100) as f64 / 100.0);
                    let e = (scale.log2().floor() as i32) - 14; // m = scale * 2^shift, shift = -e
                    let shift = (-e).clamp(i32::from(SHIFT_MIN), i32::from(SHIFT_MAX));
                    let m = (scale * 2f64.powi(shift))
                        .round()
                        .clamp(0.0, f64::from(MULT_MAX));
                    Requant {
                        m: m as u16,
                        shift: shift as u8,
                    }
                }
            })
            .collect();
        ConvLayer {
            ih,
            iw,
            cin,
            cout,
            k,
            pool,
            input,
            weights,
            bias,
            rq,
        }
    }
}
