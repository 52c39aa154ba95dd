//! Activation calibration: the u8 scale (zero point 0) of a layer's output.

use super::error::{check_finite, QuantError, Result};

/// Scale of the network input: raw 8-bit pixels, real value `pixel / 255`.
pub const INPUT_SCALE: f64 = 1.0 / 255.0;

/// How to pick the value that maps to 255.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Calibration {
    /// The largest sample: `scale = max / 255` (no clipping on the calibration set).
    MinMax,
    /// The `p`-th percentile (`0 < p <= 100`, e.g. 99.99), nearest-rank: the `ceil(p/100 * n)`-th
    /// smallest sample. Clips the rare largest values for a finer scale. `p = 100` equals `MinMax`.
    Percentile(f64),
}

/// The u8 output scale of a layer from samples of its float output, flattened (any order; the
/// values are post-ReLU so non-negative). `scale = v / 255` with `v` chosen by `method`.
///
/// If `v` is 0 (the layer output zero on every sample) the scale is [`INPUT_SCALE`]: every
/// sample quantises to 0 at any scale, and a finite positive value keeps the next layer's
/// multipliers defined. Empty or non-finite samples are errors. Negative samples are allowed
/// (they cannot raise `v`; they would clamp to 0).
///
/// Cost: `O(n)` (selection, not a full sort) and one copy of the samples for `Percentile`;
/// subsample very large calibration sets before calling.
pub fn activation_scale(samples: &[f32], method: Calibration) -> Result<f64> {
    const OP: &str = "activation_scale";
    if samples.is_empty() {
        return Err(QuantError::Empty {
            op: OP,
            what: "calibration samples",
        });
    }
    check_finite(OP, samples)?;
    let v = match method {
        Calibration::MinMax => samples.iter().fold(0.0f32, |m, &x| m.max(x)),
        Calibration::Percentile(p) => {
            if !(p > 0.0 && p <= 100.0) {
                return Err(QuantError::BadPercentile { op: OP, p });
            }
            let n = samples.len();
            // nearest rank, 1-based, at least 1
            let rank = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
            let mut copy = samples.to_vec();
            let (_, v, _) = copy.select_nth_unstable_by(rank - 1, f32::total_cmp);
            v.max(0.0)
        }
    };
    Ok(if v > 0.0 {
        f64::from(v) / 255.0
    } else {
        INPUT_SCALE
    })
}

/// Quantises one float activation to u8 at `scale` as the integer pipeline represents it:
/// `clamp(round(x / scale), 0, 255)` (round half away from zero). For host-side comparisons
/// of float and integer activations.
pub fn quantize_activation(x: f32, scale: f64) -> u8 {
    (f64::from(x) / scale).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_and_percentile_by_hand() {
        // 1..=1000 as floats, max 1000 -> 1000/255
        let s: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
        assert_eq!(
            activation_scale(&s, Calibration::MinMax).unwrap(),
            1000.0 / 255.0
        );
        // p = 99: rank ceil(0.99 * 1000) = 990 -> value 990
        assert_eq!(
            activation_scale(&s, Calibration::Percentile(99.0)).unwrap(),
            990.0 / 255.0
        );
        // p = 99.95: rank ceil(999.5) = 1000 -> 1000
        assert_eq!(
            activation_scale(&s, Calibration::Percentile(99.95)).unwrap(),
            1000.0 / 255.0
        );
        // p = 50: rank 500
        assert_eq!(
            activation_scale(&s, Calibration::Percentile(50.0)).unwrap(),
            500.0 / 255.0
        );
        // tiny p: rank ceil(0.001) = 1 -> smallest sample, 1
        assert_eq!(
            activation_scale(&s, Calibration::Percentile(1e-4)).unwrap(),
            1.0 / 255.0
        );
        // order does not matter
        let mut r = s.clone();
        r.reverse();
        assert_eq!(
            activation_scale(&r, Calibration::Percentile(99.0)).unwrap(),
            990.0 / 255.0
        );
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(
            activation_scale(&[0.0; 10], Calibration::MinMax).unwrap(),
            INPUT_SCALE
        );
        // 99th percentile of 100 samples with one outlier: rank 99 -> 0 -> fallback
        let mut s = vec![0.0f32; 99];
        s.push(50.0);
        assert_eq!(
            activation_scale(&s, Calibration::Percentile(99.0)).unwrap(),
            INPUT_SCALE
        );
        assert_eq!(
            activation_scale(&s, Calibration::Percentile(100.0)).unwrap(),
            50.0 / 255.0
        );
        assert!(matches!(
            activation_scale(&[], Calibration::MinMax),
            Err(QuantError::Empty { .. })
        ));
        assert!(matches!(
            activation_scale(&[1.0, f32::NAN], Calibration::MinMax),
            Err(QuantError::NonFinite { .. })
        ));
        for p in [0.0, -1.0, 100.5, f64::NAN] {
            assert!(matches!(
                activation_scale(&s, Calibration::Percentile(p)),
                Err(QuantError::BadPercentile { .. })
            ));
        }
    }

    #[test]
    fn quantize_activation_rounds_and_clamps() {
        // scale 0.5: 1.25 -> 2.5 -> 3 (half away), 200 -> 400 -> 255, -1 -> 0
        assert_eq!(quantize_activation(1.25, 0.5), 3);
        assert_eq!(quantize_activation(200.0, 0.5), 255);
        assert_eq!(quantize_activation(-1.0, 0.5), 0);
        assert_eq!(quantize_activation(1.0, INPUT_SCALE), 255);
    }
}
