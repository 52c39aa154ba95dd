//! Incremental Network Quantization (Zhou et al., ICLR 2017) for P layers: weights become 0 or
//! `±2^e`, `n2 <= e <= n1`, a growing portion at a time, largest magnitudes first.

use firmware::numerics::{PCode, PBITS_MAX, PBITS_MIN};

use super::error::{check_bits, check_finite, check_len, QuantError, Result};
use super::requant::pow2;

/// The usual accumulated portions (INQ paper, VGG/ResNet): quantise half, then 3/4, 7/8, all.
pub const INQ_PORTIONS: [f64; 4] = [0.5, 0.75, 0.875, 1.0];

/// The power-of-two grid of one P layer.
///
/// With code width `bits` the entry can hold up to `2^(bits-1) - 1` non-zero magnitudes
/// (magnitude `k` means `2^(k-1)` units of `2^n2`); the layer uses `L = levels` of them
/// (default: all), so the representable weights are 0 and `±2^e` for `e` in `n2..=n1` with
/// `n2 = n1 - (L - 1)` (`docs/numerics.md`, P layer). (The INQ paper spends one bit on a zero
/// flag, giving `2^(b-2)` exponents; here zero is a code of its own.) Fewer levels than the
/// code allows keep the shifts small: the model reader requires
/// `|bias| + 255 * sum|w| < 2^31` per row, so e.g. 6- and 7-bit codes cannot use all theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InqParams {
    /// Code width, `PBITS_MIN..=PBITS_MAX`.
    pub bits: u8,
    /// Non-zero magnitudes used, `1..=2^(bits-1) - 1`.
    pub levels: u8,
    /// Largest exponent.
    pub n1: i32,
    /// Smallest exponent: the layer's unit is `2^n2`.
    pub n2: i32,
}

impl InqParams {
    /// The grid with largest exponent `n1` using every level the code holds. The grid must lie
    /// inside f32's normal range (`-126 <= n2`, `n1 <= 127`) so every level is an exact f32
    /// (and `n2` fits the blob's `i8`).
    pub fn new(bits: u8, n1: i32) -> Result<Self> {
        check_bits("InqParams::new", bits)?;
        InqParams::make("InqParams::new", bits, max_levels(bits), n1)
    }

    /// The same grid top `n1` with only `levels` non-zero magnitudes (`n2` moves up).
    pub fn with_levels(self, levels: u8) -> Result<Self> {
        InqParams::make("InqParams::with_levels", self.bits, levels, self.n1)
    }

    fn make(op: &'static str, bits: u8, levels: u8, n1: i32) -> Result<Self> {
        check_bits(op, bits)?;
        let max = max_levels(bits);
        if !(1..=max).contains(&levels) {
            return Err(QuantError::BadLevels { op, levels, max });
        }
        let n2 = n1 - (i32::from(levels) - 1);
        if n2 < -126 || n1 > 127 {
            return Err(QuantError::BadScale {
                op,
                scale: 2f64.powi(n1),
            });
        }
        Ok(InqParams {
            bits,
            levels,
            n1,
            n2,
        })
    }

    /// The grid for `s = max|w|` using every level: see [`Self::from_max_levels`].
    pub fn from_max(bits: u8, s: f64) -> Result<Self> {
        InqParams::from_max_levels(bits, max_levels(bits), s)
    }

    /// The grid for `s = max|w|` with `levels` non-zero magnitudes: `n1 = floor(log2(4s/3))`,
    /// computed exactly as the `n1` with `3 * 2^n1 <= 4s < 3 * 2^(n1+1)` (so `s < 1.5 * 2^n1`:
    /// no weight of the layer lies above the top level's rounding interval), and
    /// `n2 = n1 - (levels - 1)`. `s` must be positive and finite.
    pub fn from_max_levels(bits: u8, levels: u8, s: f64) -> Result<Self> {
        const OP: &str = "InqParams::from_max";
        check_bits(OP, bits)?;
        if !(s.is_finite() && s >= pow2(-1000) && s <= pow2(1000)) {
            return Err(QuantError::BadScale { op: OP, scale: s });
        }
        let four_s = 4.0 * s;
        let mut n1 = (four_s / 3.0).log2().floor() as i32;
        while 3.0 * pow2(n1) > four_s {
            n1 -= 1;
        }
        while 3.0 * pow2(n1 + 1) <= four_s {
            n1 += 1;
        }
        InqParams::make(OP, bits, levels, n1)
    }

    /// The grid for a weight tensor (any shape, flattened) from its `max|w|`, every level.
    /// Compute it once, before the first INQ step, and keep it for all steps (as INQ does):
    /// retraining may move unquantised weights, but the grid stays fixed.
    pub fn from_weights(bits: u8, weights: &[f32]) -> Result<Self> {
        InqParams::from_weights_levels(bits, max_levels(bits), weights)
    }

    /// [`Self::from_weights`] with `levels` non-zero magnitudes.
    pub fn from_weights_levels(bits: u8, levels: u8, weights: &[f32]) -> Result<Self> {
        check_finite("InqParams::from_weights", weights)?;
        let s = weights
            .iter()
            .fold(0.0f64, |m, &w| m.max(f64::from(w).abs()));
        InqParams::from_max_levels(bits, levels, s)
    }

    /// The layer's unit `2^n2` (the P layer's weight scale).
    pub fn unit(&self) -> f64 {
        pow2(self.n2)
    }

    /// The INQ level of one weight: with `α` the next level below `β = 2^e` (`α = 0` for
    /// `e = n2`), `|w|` in `[(α+β)/2, 3β/2)` maps to `β`, i.e. `[2^(n2-1), 3*2^(n2-1))` to `2^n2`
    /// and `[3*2^(e-2), 3*2^(e-1))` to `2^e` (round to the nearest level, ties up);
    /// `|w| < 2^(n2-1)` to 0; anything at or above `3*2^(n1-1)` clamps to `2^n1`. The sign is
    /// kept; zero is `+0.0`.
    pub fn quantize(&self, w: f32) -> f32 {
        match self.exponent(w) {
            None => 0.0,
            Some((neg, e)) => {
                let v = pow2(e) as f32;
                if neg {
                    -v
                } else {
                    v
                }
            }
        }
    }

    /// [`Self::quantize`] as `(negative, e)`, `None` for the zero level.
    pub fn exponent(&self, w: f32) -> Option<(bool, i32)> {
        let a = f64::from(w).abs();
        if a.is_nan() || a < pow2(self.n2 - 1) {
            return None;
        }
        let mut e = self.n2;
        while e < self.n1 && a >= 3.0 * pow2(e - 1) {
            e += 1;
        }
        Some((w < 0.0, e))
    }
}

/// Most non-zero magnitudes a code width holds: `2^(bits-1) - 1` = `PCode::max_shift(bits) + 1`
/// (0 for a width outside `PBITS_MIN..=PBITS_MAX`).
pub fn max_levels(bits: u8) -> u8 {
    if (PBITS_MIN..=PBITS_MAX).contains(&bits) {
        PCode::max_shift(bits) + 1
    } else {
        0
    }
}

/// Outcome of one INQ partition step.
#[derive(Clone, Debug, PartialEq)]
pub struct InqStep {
    /// `[n]`: pruned weights 0, quantised ones on the grid, the rest unchanged (to be retrained).
    pub weights: Vec<f32>,
    /// `[n]`: live weights now on the grid (cumulative).
    pub quantised: Vec<bool>,
    /// `[n]`: what the training loop must hold fixed: quantised or pruned.
    pub frozen: Vec<bool>,
    /// How many weights this step quantised.
    pub newly: usize,
}

/// One INQ step at accumulated `portion` (in `(0, 1]`, e.g. successive [`INQ_PORTIONS`]).
///
/// - `weights`, `live`, `quantised`: `[n]` (any tensor shape, flattened). `live[i]` false marks
///   a pruned weight (pass all `true` for an unpruned layer); `quantised[i]` marks weights
///   quantised by earlier steps (all `false` before the first step).
/// - Of the `n_live` live weights, `round(portion * n_live)` (half away from zero, at least
///   the number already quantised) end up quantised: the not-yet-quantised live weights with
///   the largest `|w|` are added (ties: lower index first) and snapped with
///   [`InqParams::quantize`]. Already-quantised weights are copied unchanged.
/// - Pruned weights are set to 0 and frozen; they do not count towards the portion.
pub fn inq_step(
    weights: &[f32],
    live: &[bool],
    quantised: &[bool],
    portion: f64,
    params: &InqParams,
) -> Result<InqStep> {
    const OP: &str = "inq_step";
    check_len(OP, "live mask", weights.len(), live.len())?;
    check_len(OP, "quantised mask", weights.len(), quantised.len())?;
    check_finite(OP, weights)?;
    if !(portion > 0.0 && portion <= 1.0) {
        return Err(QuantError::BadPortion { op: OP, portion });
    }
    let n_live = live.iter().filter(|&&l| l).count();
    let done: usize = live.iter().zip(quantised).filter(|(&l, &q)| l && q).count();
    let target = ((portion * n_live as f64).round() as usize).clamp(done, n_live);
    let mut todo: Vec<usize> = (0..weights.len())
        .filter(|&i| live[i] && !quantised[i])
        .collect();
    todo.sort_by(|&a, &b| {
        weights[b]
            .abs()
            .total_cmp(&weights[a].abs())
            .then(a.cmp(&b))
    });
    let newly = target - done;
    let mut out = InqStep {
        weights: weights.to_vec(),
        quantised: live.iter().zip(quantised).map(|(&l, &q)| l && q).collect(),
        frozen: vec![false; weights.len()],
        newly,
    };
    for &i in &todo[..newly] {
        out.weights[i] = params.quantize(weights[i]);
        out.quantised[i] = true;
    }
    for (i, &l) in live.iter().enumerate() {
        if !l {
            out.weights[i] = 0.0;
        }
        out.frozen[i] = !l || out.quantised[i];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n1_n2_by_hand() {
        // s = 1.1: 4s/3 = 1.466 -> n1 = 0; bits 3 -> L = 3, n2 = 0 - 2 = -2
        let p = InqParams::from_max(3, 1.1).unwrap();
        assert_eq!((p.n1, p.n2, p.levels), (0, -2, 3));
        // exact boundary: s = 0.75 -> 4s/3 = 1 -> n1 = 0; just below -> n1 = -1
        assert_eq!(InqParams::from_max(3, 0.75).unwrap().n1, 0);
        assert_eq!(InqParams::from_max(3, 0.75 - 1e-12).unwrap().n1, -1);
        // s = 0.1: 4s/3 = 0.1333 -> log2 = -2.9 -> n1 = -3; bits 5 -> L = 15, n2 = -17
        let p = InqParams::from_max(5, 0.1).unwrap();
        assert_eq!((p.n1, p.n2, p.levels), (-3, -17, 15));
        // ternary: bits 2 -> L = 1, n2 = n1
        let p = InqParams::from_max(2, 1.1).unwrap();
        assert_eq!((p.n1, p.n2, p.levels), (0, 0, 1));
        assert!(matches!(
            InqParams::from_max(8, 1.0),
            Err(QuantError::BadBits { bits: 8, .. })
        ));
        assert!(matches!(
            InqParams::from_max(1, 1.0),
            Err(QuantError::BadBits { .. })
        ));
        assert!(matches!(
            InqParams::from_max(4, 0.0),
            Err(QuantError::BadScale { .. })
        ));
        assert!(matches!(
            InqParams::from_weights(4, &[0.0, 0.0]),
            Err(QuantError::BadScale { .. })
        ));
        // 7-bit: L = 63, n2 = n1 - 62; s = 1e-20: 3*2^-67 <= 4e-20 < 3*2^-66 so n1 = -67,
        // n2 = -129 < -126 -> refused
        assert!(InqParams::from_max(7, 1e-20).is_err());
        assert_eq!(
            InqParams::from_weights(3, &[0.2, -1.1, 0.5]).unwrap(),
            InqParams::from_max(3, 1.1).unwrap()
        );
    }

    #[test]
    fn levels_by_hand() {
        // n1 = 0, n2 = -2: levels 0.25, 0.5, 1.
        // thresholds: < 0.125 -> 0; [0.125, 0.375) -> 0.25; [0.375, 0.75) -> 0.5; >= 0.75 -> 1
        let p = InqParams::from_max(3, 1.1).unwrap();
        let cases: [(f32, f32); 14] = [
            (0.9, 1.0),
            (-0.6, -0.5),
            (0.3, 0.25),
            (0.2, 0.25),
            (-0.1, 0.0),
            (0.05, 0.0),
            (0.14, 0.25),
            (1.1, 1.0),
            (0.125, 0.25), // (0 + 0.25)/2: tie goes up
            (0.124, 0.0),
            (0.375, 0.5),  // (0.25 + 0.5)/2
            (-0.75, -1.0), // (0.5 + 1)/2
            (1.6, 1.0),    // above 3*2^0/2 = 1.5: clamped to 2^n1
            (-0.0, 0.0),
        ];
        for (w, want) in cases {
            assert_eq!(p.quantize(w), want, "w = {w}");
        }
        assert_eq!(p.exponent(-0.6), Some((true, -1)));
        assert_eq!(p.exponent(0.1), None);
        // idempotent on the grid
        for e in -2..=0 {
            assert_eq!(p.quantize(2f32.powi(e)), 2f32.powi(e));
        }
    }

    #[test]
    fn partition_by_hand() {
        let p = InqParams::from_max(3, 1.1).unwrap();
        let w = [0.9f32, -0.6, 0.3, 0.2, -0.1, 0.05, 0.14, 1.1];
        let live = [true, true, false, true, true, true, true, true]; // idx 2 pruned
                                                                      // 7 live; 0.5 -> round(3.5) = 4 largest live |w|: 1.1 (7), 0.9 (0), 0.6 (1), 0.2 (3)
        let s1 = inq_step(&w, &live, &[false; 8], 0.5, &p).unwrap();
        assert_eq!(s1.newly, 4);
        assert_eq!(
            s1.weights,
            vec![1.0, -0.5, 0.0, 0.25, -0.1, 0.05, 0.14, 1.0]
        );
        assert_eq!(
            s1.quantised,
            vec![true, true, false, true, false, false, false, true]
        );
        assert_eq!(
            s1.frozen,
            vec![true, true, true, true, false, false, false, true]
        );
        // retraining moves the free weights a little
        let mut w2 = s1.weights.clone();
        w2[4] = -0.13;
        // 0.75 -> round(5.25) = 5: one more, the largest free |w| = 0.14 (6) -> 0.25
        let s2 = inq_step(&w2, &live, &s1.quantised, 0.75, &p).unwrap();
        assert_eq!(s2.newly, 1);
        assert_eq!(
            s2.weights,
            vec![1.0, -0.5, 0.0, 0.25, -0.13, 0.05, 0.25, 1.0]
        );
        // 0.875 -> round(6.125) = 6: -0.13 (4) -> -0.25 (>= 0.125)
        let s3 = inq_step(&s2.weights, &live, &s2.quantised, 0.875, &p).unwrap();
        assert_eq!(s3.weights[4], -0.25);
        // 1.0 -> 7: 0.05 -> 0 (below 0.125)
        let s4 = inq_step(&s3.weights, &live, &s3.quantised, 1.0, &p).unwrap();
        assert_eq!(
            s4.weights,
            vec![1.0, -0.5, 0.0, 0.25, -0.25, 0.0, 0.25, 1.0]
        );
        assert!(s4.frozen.iter().all(|&f| f));
        assert_eq!(s4.newly, 1);
        // a repeated portion quantises nothing more
        assert_eq!(
            inq_step(&s4.weights, &live, &s4.quantised, 0.5, &p)
                .unwrap()
                .newly,
            0
        );
    }

    #[test]
    fn partition_errors_and_pruned_values() {
        let p = InqParams::from_max(4, 1.0).unwrap();
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                inq_step(&[1.0], &[true], &[false], bad, &p),
                Err(QuantError::BadPortion { .. })
            ));
        }
        assert!(matches!(
            inq_step(&[1.0], &[true, true], &[false], 1.0, &p),
            Err(QuantError::ShapeMismatch { .. })
        ));
        // a pruned weight that drifted is forced back to 0
        let s = inq_step(&[0.7, 0.3], &[true, false], &[false, false], 1.0, &p).unwrap();
        assert_eq!(s.weights[1], 0.0);
        assert_eq!(s.frozen, vec![true, true]);
        assert_eq!(s.quantised, vec![true, false]);
    }
}
