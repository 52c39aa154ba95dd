//! NP ("no pruning") layers: symmetric per-output-channel int8 weights, i32 bias, per-channel
//! requantisation; and the layout conversions from the float engine to the integer world.

use firmware::numerics::Requant;

use super::error::{check_acc_bound, check_finite, check_len, check_scale, QuantError, Result};
use super::requant::quantize_multiplier_ch;

/// Largest stored weight magnitude (TFLite's symmetric int8 range `[-127, 127]`).
pub const QMAX: i32 = 127;

/// Symmetric per-output-channel int8 weights.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelQuantized {
    /// `[cout][per]` (each channel's weights contiguous, in the order they were given).
    pub q: Vec<i8>,
    /// `[cout]`: real weight = `q * scale[c]`.
    pub scale: Vec<f64>,
}

impl ChannelQuantized {
    /// The float weights the integers stand for, `[cout][per]` (for fake-quantised float
    /// evaluation or fine-tuning with the NP weights frozen).
    pub fn dequantize(&self) -> Vec<f32> {
        let per = self.q.len() / self.scale.len().max(1);
        self.q
            .iter()
            .enumerate()
            .map(|(i, &q)| (f64::from(q) * self.scale[i / per]) as f32)
            .collect()
    }
}

/// Quantises weights `[cout][per]` (per = `cin*k*k` for a conv in either OIHW or OHWI order, or
/// `in` for a dense layer `[out][in]`) symmetrically per output channel:
/// `scale[c] = max|w[c]| / 127`, `q = round(w / scale[c])` (half away from zero) clamped to
/// `[-127, 127]`.
///
/// An all-zero channel gets `scale = 1.0` (TFLite's choice): every weight is exactly 0 at any
/// scale, and 1.0 keeps its bias scale equal to `in_scale` and its multiplier `in_scale /
/// out_scale` well inside the representable range, so nothing divides by zero downstream.
pub fn quantize_per_channel(weights: &[f32], cout: usize) -> Result<ChannelQuantized> {
    quantize_symmetric("quantize_per_channel", weights, cout, false)
}

/// As [`quantize_per_channel`] but with one scale for the whole tensor,
/// `max|w| / 127` (repeated `cout` times in the result). The final layer needs this: its raw
/// `i32` accumulators are the logits and the class is their argmax, which equals the argmax of
/// the real logits only when every channel has the same unit (the model blob carries a single
/// `logit_scale`).
pub fn quantize_per_tensor(weights: &[f32], cout: usize) -> Result<ChannelQuantized> {
    quantize_symmetric("quantize_per_tensor", weights, cout, true)
}

fn quantize_symmetric(
    op: &'static str,
    weights: &[f32],
    cout: usize,
    per_tensor: bool,
) -> Result<ChannelQuantized> {
    if cout == 0 {
        return Err(QuantError::Empty {
            op,
            what: "output channels",
        });
    }
    let per = weights.len() / cout;
    check_len(op, "weights [cout][per]", cout * per, weights.len())?;
    check_finite(op, weights)?;
    let abs_max = |ws: &[f32]| ws.iter().fold(0.0f64, |m, &w| m.max(f64::from(w).abs()));
    let to_scale = |max: f64| {
        if max > 0.0 {
            max / f64::from(QMAX)
        } else {
            1.0
        }
    };
    let tensor_scale = to_scale(abs_max(weights));
    let mut q = Vec::with_capacity(weights.len());
    let mut scale = Vec::with_capacity(cout);
    for c in 0..cout {
        let row = &weights[c * per..(c + 1) * per];
        let s = if per_tensor {
            tensor_scale
        } else {
            to_scale(abs_max(row))
        };
        let lim = f64::from(QMAX);
        q.extend(
            row.iter()
                .map(|&w| (f64::from(w) / s).round().clamp(-lim, lim) as i8),
        );
        scale.push(s);
    }
    Ok(ChannelQuantized { q, scale })
}

/// Quantises a bias `[cout]` to `i32` at scale `in_scale * w_scale[c]` (round half away from
/// zero). A value outside `i32` is an error ([`QuantError::BiasOverflow`]), never a silent
/// saturation. Also used for P layers with `w_scale[c] = 2^n2`.
pub fn quantize_bias(bias: &[f32], in_scale: f64, w_scale: &[f64]) -> Result<Vec<i32>> {
    const OP: &str = "quantize_bias";
    check_len(OP, "bias [cout]", w_scale.len(), bias.len())?;
    check_finite(OP, bias)?;
    check_scale(OP, in_scale)?;
    bias.iter()
        .zip(w_scale)
        .enumerate()
        .map(|(channel, (&b, &ws))| {
            check_scale(OP, ws)?;
            let scale = in_scale * ws;
            let quantised = (f64::from(b) / scale).round();
            if quantised >= f64::from(i32::MIN) && quantised <= f64::from(i32::MAX) {
                Ok(quantised as i32)
            } else {
                Err(QuantError::BiasOverflow {
                    op: OP,
                    channel,
                    value: b,
                    scale,
                    quantised,
                })
            }
        })
        .collect()
}

/// Per-channel requantisation pairs `[cout]` for real multipliers
/// `in_scale * w_scale[c] / out_scale` (see [`super::quantize_multiplier`]; the error names the
/// channel).
pub fn requant_per_channel(in_scale: f64, w_scale: &[f64], out_scale: f64) -> Result<Vec<Requant>> {
    const OP: &str = "requant_per_channel";
    check_scale(OP, in_scale)?;
    check_scale(OP, out_scale)?;
    w_scale
        .iter()
        .enumerate()
        .map(|(c, &ws)| quantize_multiplier_ch(OP, c, in_scale * ws / out_scale))
        .collect()
}

/// A quantised NP layer: everything the model blob needs for it.
#[derive(Clone, Debug, PartialEq)]
pub struct NpLayer {
    /// `[cout][per]` i8 weights, in the order given to [`quantize_np_layer`].
    pub weights: Vec<i8>,
    /// `[cout]` weight scales (all equal for the final layer, see [`quantize_per_tensor`]).
    pub w_scale: Vec<f64>,
    /// `[cout]` bias at scale `in_scale * w_scale[c]`.
    pub bias: Vec<i32>,
    /// `[cout]` requantisation pairs; `None` for the final layer (raw i32 logits, whose real
    /// value is `acc * in_scale * w_scale`).
    pub requant: Option<Vec<Requant>>,
    /// The input activation scale used.
    pub in_scale: f64,
}

impl NpLayer {
    /// Output channels.
    pub fn cout(&self) -> usize {
        self.bias.len()
    }

    /// Real value of one accumulator unit per channel, `in_scale * w_scale[c]`.
    pub fn acc_scale(&self) -> Vec<f64> {
        self.w_scale.iter().map(|w| self.in_scale * w).collect()
    }

    /// For the final layer (no requantisation): the real value of one logit unit,
    /// `in_scale * w_scale` (the blob's `logit_scale`). `None` for a requantising layer.
    pub fn logit_scale(&self) -> Option<f64> {
        match (&self.requant, self.w_scale.first()) {
            (None, Some(w)) => Some(self.in_scale * w),
            _ => None,
        }
    }
}

/// Quantises one NP layer: weights `[cout][per]` (layout as given, typically already
/// [`oihw_to_ohwi`]-permuted), bias `[cout]`, input activation scale, and the output activation
/// scale. With `out_scale: None` it is the final, logit-producing layer: no requantisation,
/// and weights quantised per tensor ([`quantize_per_tensor`]) so all logits share one unit.
/// Otherwise weights are per channel ([`quantize_per_channel`]). Fails with
/// [`QuantError::AccumulatorOverflow`] where the model reader would reject the channel.
pub fn quantize_np_layer(
    weights: &[f32],
    bias: &[f32],
    cout: usize,
    in_scale: f64,
    out_scale: Option<f64>,
) -> Result<NpLayer> {
    check_len("quantize_np_layer", "bias [cout]", cout, bias.len())?;
    let w = match out_scale {
        Some(_) => quantize_per_channel(weights, cout)?,
        None => quantize_per_tensor(weights, cout)?,
    };
    let b = quantize_bias(bias, in_scale, &w.scale)?;
    check_acc_bound("quantize_np_layer", &w.q, &b, |q| i64::from(q).abs())?;
    let requant = out_scale
        .map(|o| requant_per_channel(in_scale, &w.scale, o))
        .transpose()?;
    Ok(NpLayer {
        weights: w.q,
        w_scale: w.scale,
        bias: b,
        requant,
        in_scale,
    })
}

/// Conv weights from the float engine's `[cout][cin][kh][kw]` (OIHW) to the integer world's
/// `[cout][kh][kw][cin]` (OHWI).
pub fn oihw_to_ohwi<T: Copy>(
    w: &[T],
    cout: usize,
    cin: usize,
    kh: usize,
    kw: usize,
) -> Result<Vec<T>> {
    check_len(
        "oihw_to_ohwi",
        "weights [cout][cin][kh][kw]",
        cout * cin * kh * kw,
        w.len(),
    )?;
    let mut out = Vec::with_capacity(w.len());
    for o in 0..cout {
        for y in 0..kh {
            for x in 0..kw {
                for i in 0..cin {
                    out.push(w[((o * cin + i) * kh + y) * kw + x]);
                }
            }
        }
    }
    Ok(out)
}

/// A `[c][h][w]` activation (CHW) to `[h][w][c]` (HWC).
pub fn chw_to_hwc<T: Copy>(x: &[T], c: usize, h: usize, w: usize) -> Result<Vec<T>> {
    check_len("chw_to_hwc", "activation [c][h][w]", c * h * w, x.len())?;
    let mut out = Vec::with_capacity(x.len());
    for y in 0..h {
        for xx in 0..w {
            for ch in 0..c {
                out.push(x[(ch * h + y) * w + xx]);
            }
        }
    }
    Ok(out)
}

/// The first dense layer after a flatten: weights `[out][c*h*w]` whose input index is the
/// CHW-flatten `ch*h*w + y*w + x` become `[out][h*w*c]` indexed by the HWC-flatten
/// `(y*w + x)*c + ch`, so `W_hwc · hwc(x) == W_chw · chw(x)`.
pub fn dense_chw_to_hwc<T: Copy>(
    weights: &[T],
    n_out: usize,
    c: usize,
    h: usize,
    w: usize,
) -> Result<Vec<T>> {
    let n_in = c * h * w;
    check_len(
        "dense_chw_to_hwc",
        "weights [out][c*h*w]",
        n_out * n_in,
        weights.len(),
    )?;
    let mut out = Vec::with_capacity(weights.len());
    for row in weights.chunks(n_in.max(1)).take(n_out) {
        out.extend(chw_to_hwc(row, c, h, w)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_hand_computed() {
        // channel 0: max|w| = 2.54 -> scale 0.02; 1.27/0.02 = 63.5 (up to f32 representation
        //            of 1.27 and 2.54) -> 63 or 64; -0.03/0.02 = -1.5 in reals, but in f32 inputs
        //            python `f32(-0.03)/(f32(2.54)/127)` = -1.49999999 -> -1; -2.54 -> -127
        // channel 1: all zero -> scale 1.0, q = 0
        // channel 2: max|w| = 127 -> scale 1; 0.5 -> 1, -0.49 -> 0
        let w = [1.27f32, -0.03, -2.54, 0.0, 0.0, 0.0, 127.0, 0.5, -0.49];
        let q = quantize_per_channel(&w, 3).unwrap();
        assert_eq!(q.scale[1], 1.0);
        assert_eq!(q.scale[2], 1.0);
        assert!((q.scale[0] - 0.02).abs() < 1e-9);
        // f32 1.27 / (f32 2.54 / 127) is 63.5 up to f32 representation error in both; check
        // the unambiguous ones exactly and the tie one against the real quotient.
        let tie = (f64::from(1.27f32) / q.scale[0]).round() as i8;
        assert_eq!(q.q, vec![tie, -1, -127, 0, 0, 0, 127, 1, 0]);
        assert!(tie == 63 || tie == 64);
        let d = q.dequantize();
        assert_eq!(d[2], -2.54);
        assert_eq!(d[6], 127.0);
    }

    #[test]
    fn ties_round_away_from_zero_exactly() {
        // scale = 127/127 = 1 exactly: 2.5 -> 3, -2.5 -> -3, 0.5 -> 1, -1.5 -> -2
        let q = quantize_per_channel(&[127.0, 2.5, -2.5, 0.5, -1.5], 1).unwrap();
        assert_eq!(q.q, vec![127, 3, -3, 1, -2]);
    }

    #[test]
    fn per_channel_errors() {
        assert!(matches!(
            quantize_per_channel(&[1.0; 5], 2),
            Err(QuantError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            quantize_per_channel(&[1.0, f32::NAN], 1),
            Err(QuantError::NonFinite { index: 1, .. })
        ));
    }

    #[test]
    fn bias_hand_computed_and_overflow() {
        // in_scale 1/255 (exactly representable? no, but 0.5 / (1/255 * 0.02) = 6375 to 1e-9)
        // bias 0.5 at scale (1/255)*0.02 -> 0.5 * 255 / 0.02 = 6375
        // bias -0.001 at (1/255)*1.0 -> -0.255 -> 0 ; bias 0.002 -> 0.51 -> 1
        let b = quantize_bias(&[0.5, -0.001, 0.002], 1.0 / 255.0, &[0.02, 1.0, 1.0]).unwrap();
        assert_eq!(b, vec![6375, 0, 1]);
        // 1e6 / (1e-3 * 1e-3) = 1e12 > i32::MAX
        let e = quantize_bias(&[1.0e6], 1e-3, &[1e-3]).unwrap_err();
        assert!(
            matches!(e, QuantError::BiasOverflow { channel: 0, .. }),
            "{e}"
        );
        // exactly i32::MAX fits (scale 1, 2147483647 is exact in f64, f32 rounds it to 2^31)
        assert!(quantize_bias(&[2147483520.0], 1.0, &[1.0]).is_ok());
        assert!(quantize_bias(&[2147483648.0], 1.0, &[1.0]).is_err());
        assert!(quantize_bias(&[-2147483648.0], 1.0, &[1.0]).is_ok());
    }

    #[test]
    fn requant_per_channel_names_channel() {
        // channel 1: (1/255) * 1e-12 / 0.05 ~ 7.8e-14 < 2^-33 -> out of range, channel named
        let r = requant_per_channel(1.0 / 255.0, &[0.02, 1e-12], 0.05);
        match r {
            Err(QuantError::MultiplierOutOfRange {
                channel: Some(1), ..
            }) => {}
            other => panic!("{other:?}"),
        }
        let r = requant_per_channel(1.0 / 255.0, &[0.02], 0.05).unwrap();
        // 0.02/(255*0.05) = 0.00156862.. = 0.80313.. * 2^-9, so shift = 15 + 9 = 24 and
        // m = round(0.00156862.. * 2^24) = round(26317.2016) = 26317
        assert_eq!(
            r,
            vec![Requant {
                m: 26317,
                shift: 24
            }]
        );
    }

    #[test]
    fn np_layer_accumulator_bound() {
        // one channel, w = 1.0 -> q = 127 at scale 1/127; in_scale 1 -> bias scale 1/127.
        // bias 16909066 (exact in f32) -> 16909066 * 127 = 2147451382 (fits i32), but
        // 2147451382 + 255 * 127 = 2147483767 >= 2^31 -> rejected
        let r = quantize_np_layer(&[1.0], &[16909066.0], 1, 1.0, Some(1.0));
        assert!(
            matches!(
                r,
                Err(QuantError::AccumulatorOverflow {
                    channel: 0,
                    bound: 2147483767,
                    ..
                })
            ),
            "{r:?}"
        );
        // 16909000 * 127 + 32385 = 2147475385 < 2^31 -> accepted
        assert!(quantize_np_layer(&[1.0], &[16909000.0], 1, 1.0, Some(1.0)).is_ok());
    }

    #[test]
    fn np_layer_final_is_per_tensor_without_requant() {
        let w = [1.0f32, -1.0, 0.5, 0.25];
        // final: one scale max|w|/127 = 1/127 for both channels; 0.5*127 = 63.5 -> 64,
        // 0.25*127 = 31.75 -> 32; bias 0.1 / (0.01/127) = 1270
        let l = quantize_np_layer(&w, &[0.1, 0.0], 2, 0.01, None).unwrap();
        assert!(l.requant.is_none());
        assert_eq!(l.weights, vec![127, -127, 64, 32]);
        assert_eq!(l.w_scale, vec![1.0 / 127.0; 2]);
        assert_eq!(l.bias, vec![1270, 0]);
        assert_eq!(l.logit_scale(), Some(0.01 / 127.0));
        // hidden: per channel; channel 1 scale 0.5/127, 0.25 -> 63.5 -> 64
        let l = quantize_np_layer(&w, &[0.1, 0.0], 2, 0.01, Some(0.1)).unwrap();
        assert_eq!(l.weights, vec![127, -127, 127, 64]);
        assert_eq!(l.requant.as_ref().unwrap().len(), 2);
        assert_eq!(l.logit_scale(), None);
        // per-tensor quantiser on its own, all-zero tensor -> scale 1
        assert_eq!(
            quantize_per_tensor(&[0.0; 4], 2).unwrap().scale,
            vec![1.0, 1.0]
        );
    }

    #[test]
    fn oihw_to_ohwi_matches_firmware_conv() {
        // Float reference conv on CHW input with OIHW weights vs firmware::numerics::conv_acc on
        // the HWC input with OHWI weights: identical integer accumulators.
        let (cin, cout, k, h, w) = (3usize, 2usize, 2usize, 4usize, 5usize);
        let wt: Vec<i8> = (0..cout * cin * k * k)
            .map(|i| (i as i32 * 7 % 23 - 11) as i8)
            .collect();
        let x: Vec<u8> = (0..cin * h * w).map(|i| (i * 37 % 256) as u8).collect();
        let w_ohwi = oihw_to_ohwi(&wt, cout, cin, k, k).unwrap();
        let x_hwc = chw_to_hwc(&x, cin, h, w).unwrap();
        for co in 0..cout {
            for y in 0..h - k + 1 {
                for xx in 0..w - k + 1 {
                    let mut r = 0i32;
                    for ci in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                r += i32::from(wt[((co * cin + ci) * k + ky) * k + kx])
                                    * i32::from(x[(ci * h + y + ky) * w + xx + kx]);
                            }
                        }
                    }
                    let got =
                        firmware::numerics::conv_acc(&x_hwc, w, cin, &w_ohwi, 0, k, co, y, xx);
                    assert_eq!(got, r);
                }
            }
        }
        // shape check
        assert!(oihw_to_ohwi(&wt[1..], cout, cin, k, k).is_err());
    }

    #[test]
    fn small_permutations_by_hand() {
        // OIHW [1][2][1][2] = [a0 a1 | b0 b1] (channel a, then b) -> OHWI [1][1][2][2] = a0 b0 a1 b1
        assert_eq!(
            oihw_to_ohwi(&[10, 11, 20, 21], 1, 2, 1, 2).unwrap(),
            vec![10, 20, 11, 21]
        );
        // CHW c=2,h=1,w=3: [r0 r1 r2 | g0 g1 g2] -> HWC [r0 g0 r1 g1 r2 g2]
        assert_eq!(
            chw_to_hwc(&[0, 1, 2, 10, 11, 12], 2, 1, 3).unwrap(),
            vec![0, 10, 1, 11, 2, 12]
        );
    }

    #[test]
    fn dense_permutation_preserves_dot_products() {
        let (c, h, w, n_out) = (3usize, 2usize, 3usize, 4usize);
        let n_in = c * h * w;
        let wt: Vec<i8> = (0..n_out * n_in)
            .map(|i| (i as i32 * 13 % 31 - 15) as i8)
            .collect();
        let x: Vec<u8> = (0..n_in).map(|i| (i * 29 % 251) as u8).collect();
        let w_hwc = dense_chw_to_hwc(&wt, n_out, c, h, w).unwrap();
        let x_hwc = chw_to_hwc(&x, c, h, w).unwrap();
        let mut want = vec![0i32; n_out];
        firmware::numerics::dense_acc(&x, &wt, &[0; 4], &mut want);
        let mut got = vec![0i32; n_out];
        firmware::numerics::dense_acc(&x_hwc, &w_hwc, &[0; 4], &mut got);
        assert_eq!(got, want);
        // the index map itself: input (ch=1, y=1, x=2) is CHW 1*6+1*3+2 = 11, HWC (1*3+2)*3+1 = 16
        let probe: Vec<u32> = (0..n_in as u32).collect();
        assert_eq!(dense_chw_to_hwc(&probe, 1, c, h, w).unwrap()[16], 11);
    }
}
