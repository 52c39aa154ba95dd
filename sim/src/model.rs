//! Software model of the conv engine's algorithm (not of its timing): output channels in
//! groups of `lanes`, the maximum of the pooled windows' accumulators requantised once, and
//! the requantiser's MSB-first shift-and-add multiply. It is a second, independent
//! implementation checked against `numerics::conv2d` by the same conformance suite as the RTL,
//! which makes it the place to debug the algorithm when the RTL disagrees.

use crate::layer::ConvLayer;

/// The engine's requantiser: `P = 2P + m[i]*acc` for i = 15..0, then round half up, shift,
/// clamp to [0, 255]; the shift is clamped into 1..=47 on load.
pub fn requant_serial(acc: i32, m: u16, shift: u8) -> u8 {
    let s = u32::from(shift.clamp(1, 47));
    let mut p: i64 = 0;
    for i in (0..16).rev() {
        p = 2 * p + if (m >> i) & 1 == 1 { i64::from(acc) } else { 0 };
    }
    let q = (p + (1i64 << (s - 1))) >> s;
    q.clamp(0, 255) as u8
}

/// Runs `layer` the way the engine with `lanes` lanes does.
pub fn run(layer: &ConvLayer, lanes: usize) -> Vec<u8> {
    let (oh, ow) = layer.out_dims();
    let (k, cin, cout, iw) = (layer.k, layer.cin, layer.cout, layer.iw);
    let p = if layer.pool { 2 } else { 1 };
    let mut out = vec![0u8; layer.out_len()];
    for g0 in (0..cout).step_by(lanes) {
        let nl = lanes.min(cout - g0);
        for oy in 0..oh {
            for ox in 0..ow {
                for j in 0..nl {
                    let co = g0 + j;
                    let mut best = i32::MIN;
                    for w in 0..p * p {
                        let (y, x) = (oy * p + w / 2, ox * p + w % 2);
                        let mut acc = layer.bias[co];
                        // the consumer's order: kernel rows, each k*cin contiguous bytes
                        for ky in 0..k {
                            let row = ((y + ky) * iw + x) * cin;
                            for (t, &a) in layer.input[row..row + k * cin].iter().enumerate() {
                                let wt = layer.weights[co * k * k * cin + ky * k * cin + t];
                                acc = acc.wrapping_add(i32::from(a) * i32::from(wt));
                            }
                        }
                        best = if w == 0 { acc } else { best.max(acc) };
                    }
                    out[(oy * ow + ox) * cout + co] =
                        requant_serial(best, layer.rq[co].m, layer.rq[co].shift);
                }
            }
        }
    }
    out
}
