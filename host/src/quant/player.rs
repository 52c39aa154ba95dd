//! P layers ("pruned", power-of-two weights): the entry-byte encoding read by
//! `firmware::numerics::dense_p_acc`, bias and requantisation.

use firmware::model::{encode_p_row, FormatError};
use firmware::numerics::{PCode, Requant};

use super::error::{check_acc_bound, check_bits, check_len, check_scale, QuantError, Result};
use super::inq::InqParams;
use super::np::quantize_bias;
use super::requant::{pow2, quantize_multiplier};

/// An encoded P-layer weight matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PEncoded {
    /// Code width.
    pub bits: u8,
    /// Exponent of the unit: integer weight `k` stands for `k * 2^n2`.
    pub n2: i32,
    /// Output count (rows).
    pub rows: usize,
    /// Input count (columns).
    pub cols: usize,
    /// `[rows]`: entries per row (non-zero weights plus fillers).
    pub row_len: Vec<u16>,
    /// All rows' entry bytes, row after row (`sum(row_len)` bytes).
    pub entries: Vec<u8>,
    /// Non-zero weights encoded.
    pub nonzero: usize,
}

impl PEncoded {
    /// Decodes back to integer weights `[rows][cols]` in units of `2^n2` (the inverse of
    /// [`encode_p_matrix`]; what `dense_p_acc` multiplies by).
    pub fn decode(&self) -> Vec<i64> {
        let mut w = vec![0i64; self.rows * self.cols];
        let mut e = 0usize;
        for (r, &len) in self.row_len.iter().enumerate() {
            let mut cursor = 0usize;
            for _ in 0..len {
                let c = PCode::decode(self.entries[e], self.bits);
                e += 1;
                cursor += usize::from(c.skip);
                if c.magnitude != 0 {
                    let v = 1i64 << (c.magnitude - 1);
                    w[r * self.cols + cursor] = if c.negative { -v } else { v };
                }
                cursor += 1;
            }
        }
        w
    }

    /// Fraction of zero weights.
    pub fn sparsity(&self) -> f64 {
        let n = self.rows * self.cols;
        if n == 0 {
            0.0
        } else {
            1.0 - self.nonzero as f64 / n as f64
        }
    }
}

/// Encodes a pruned, INQ-quantised dense matrix `weights: [rows][cols]` (`[out][in]`, every
/// value exactly 0 or `±2^e` with `n2 <= e <= n1` of `params`) into `row_len` and entry bytes.
///
/// Per row, left to right: a non-zero weight at column `j` with `g` zeros since the previous
/// one (or the row start) becomes `PCode { skip: g, negative, magnitude: e - n2 + 1 }`. While
/// `g > PCode::max_skip(bits)` a filler `PCode { skip: max_skip, magnitude: 0 }` is emitted
/// first; it advances the cursor by `max_skip + 1`. Trailing zeros need no entries. A row with
/// more than `u16::MAX` entries is [`QuantError::RowTooLong`]; an off-grid weight is
/// [`QuantError::NotPowerOfTwo`]; a weight of `2^31` units or more (which the model reader's
/// accumulator bound rejects anyway) is [`QuantError::AccumulatorOverflow`].
///
/// The bytes are written by `firmware::model::encode_p_row`, the blob format's one P-row
/// writer; this function only maps float weights to integer units and checks the grid.
pub fn encode_p_matrix(
    weights: &[f32],
    rows: usize,
    cols: usize,
    params: &InqParams,
) -> Result<PEncoded> {
    const OP: &str = "encode_p_matrix";
    check_bits(OP, params.bits)?;
    check_len(OP, "weights [rows][cols]", rows * cols, weights.len())?;
    let bits = params.bits;
    let e_max = params.n2 + i32::from(params.levels) - 1;
    let mut out = PEncoded {
        bits,
        n2: params.n2,
        rows,
        cols,
        row_len: Vec::with_capacity(rows),
        entries: Vec::new(),
        nonzero: 0,
    };
    let mut units = vec![0i32; cols];
    for r in 0..rows {
        for (c, u) in units.iter_mut().enumerate() {
            let v = weights[r * cols + c];
            *u = 0;
            if v == 0.0 {
                continue;
            }
            let bad = || QuantError::NotPowerOfTwo {
                op: OP,
                row: r,
                col: c,
                value: v,
                n2: params.n2,
                e_max,
            };
            let e = pow2_exponent(v).ok_or_else(bad)?;
            if e < params.n2 || e > e_max {
                return Err(bad());
            }
            // A weight of 2^31 units or more fails the model reader's accumulator bound
            // (255 * |w| < 2^31) on its own, so i32 units lose nothing.
            let s = e - params.n2;
            if s > 30 {
                return Err(QuantError::AccumulatorOverflow {
                    op: OP,
                    channel: r,
                    bound: 255i64 << s.min(40),
                });
            }
            *u = if v < 0.0 { -(1 << s) } else { 1 << s };
            out.nonzero += 1;
        }
        // The blob's one P-row writer (the firmware encoder) lays out the entry bytes.
        let len = encode_p_row(0, &units, bits, &mut out.entries).map_err(|e| match e {
            FormatError::BadLayer {
                field: "row_len",
                value,
                ..
            } => QuantError::RowTooLong {
                op: OP,
                row: r,
                entries: value as usize,
            },
            // bits were checked and every unit is ±2^s with s <= 30 <= any code's range
            // (checked against `levels` above): nothing else can fail.
            other => unreachable!("encode_p_row refused a checked row: {other}"),
        })?;
        out.row_len.push(len);
    }
    Ok(out)
}

/// `Some(e)` when `|v| = 2^e` exactly (any finite non-zero f32 converts to a normal f64).
fn pow2_exponent(v: f32) -> Option<i32> {
    let a = f64::from(v).abs();
    if !a.is_normal() {
        return None;
    }
    let b = a.to_bits();
    (b & ((1u64 << 52) - 1) == 0).then(|| ((b >> 52) & 0x7ff) as i32 - 1023)
}

/// The P layer's requantisation: real multiplier `in_scale * 2^n2 / out_scale`.
pub fn p_requant(in_scale: f64, n2: i32, out_scale: f64) -> Result<Requant> {
    const OP: &str = "p_requant";
    check_scale(OP, in_scale)?;
    check_scale(OP, out_scale)?;
    let real = in_scale * pow2(n2) / out_scale;
    quantize_multiplier(real).map_err(|_| QuantError::MultiplierOutOfRange {
        op: OP,
        channel: None,
        real,
    })
}

/// A quantised P layer: everything the model blob needs for it.
#[derive(Clone, Debug, PartialEq)]
pub struct PLayer {
    /// The encoded weights.
    pub weights: PEncoded,
    /// `[rows]` bias at scale `in_scale * 2^n2`.
    pub bias: Vec<i32>,
    /// `[rows]` requantisation pairs, all equal (the weight unit `2^n2` is per layer; the blob
    /// stores one per row, as `LayerDesc::DenseP::rq`); `None` for the final layer (raw
    /// logits: real logit = `acc * in_scale * 2^n2`).
    pub requant: Option<Vec<Requant>>,
    /// The input activation scale used.
    pub in_scale: f64,
}

impl PLayer {
    /// Real value of one accumulator unit, `in_scale * 2^n2` (the blob's `logit_scale` when
    /// this is the final layer).
    pub fn acc_scale(&self) -> f64 {
        self.in_scale * pow2(self.weights.n2)
    }

    /// `n2` as the blob stores it (`i8`; [`InqParams`] keeps `-126 <= n2 <= 127`).
    pub fn n2_i8(&self) -> i8 {
        self.weights.n2 as i8
    }
}

/// Quantises one P layer: weights `[rows][cols]` on the grid of `params` (see
/// [`encode_p_matrix`]), float bias `[rows]`, input scale, output scale (`None` for the final
/// layer). Fails with [`QuantError::AccumulatorOverflow`] where the model reader would reject
/// a row (too many levels for the row's fan-in: use [`InqParams::with_levels`]).
pub fn quantize_p_layer(
    weights: &[f32],
    bias: &[f32],
    rows: usize,
    cols: usize,
    params: &InqParams,
    in_scale: f64,
    out_scale: Option<f64>,
) -> Result<PLayer> {
    check_len("quantize_p_layer", "bias [rows]", rows, bias.len())?;
    let enc = encode_p_matrix(weights, rows, cols, params)?;
    let bias = quantize_bias(bias, in_scale, &vec![pow2(params.n2); rows])?;
    check_acc_bound("quantize_p_layer", &enc.decode(), &bias, i64::abs)?;
    let requant = out_scale
        .map(|o| p_requant(in_scale, params.n2, o).map(|r| vec![r; rows]))
        .transpose()?;
    Ok(PLayer {
        weights: enc,
        bias,
        requant,
        in_scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::numerics::dense_p_acc;
    use proptest::prelude::*;

    #[test]
    fn encoding_by_hand() {
        // bits 4: skip 4 bits (max 15), sign bit 3, magnitude bits 0..=2 (L = 7).
        // n1 = 3 -> n2 = 3 - 6 = -3, unit 1/8.
        let p = InqParams::new(4, 3).unwrap();
        assert_eq!(p.n2, -3);
        let cols = 24;
        let mut w = vec![0.0f32; 3 * cols];
        w[20] = 0.5; // 2^-1 = 4 units -> magnitude 3
        w[21] = -0.125; // 2^-3 = 1 unit -> magnitude 1, negative
        w[2 * cols] = 8.0; // 2^3 = 64 units -> magnitude 7
        let enc = encode_p_matrix(&w, 3, cols, &p).unwrap();
        // row 0: gap 20 > 15 -> filler skip 15 (0xF0) advancing 16; then skip 4, mag 3 ->
        //        (4 << 4) | 3 = 0x43; then skip 0, negative, mag 1 -> (1 << 3) | 1 = 0x09
        // row 1: empty; row 2: skip 0, mag 7 -> 0x07
        assert_eq!(enc.entries, vec![0xF0, 0x43, 0x09, 0x07]);
        assert_eq!(enc.row_len, vec![3, 0, 1]);
        assert_eq!(enc.nonzero, 3);
        let d = enc.decode();
        assert_eq!((d[20], d[21], d[2 * cols]), (4, -1, 64));
        assert_eq!(d.iter().filter(|&&v| v != 0).count(), 3);
        // x = 1..=24 in each row position: row 0 = 4*21 - 22 = 62, row 2 = 64*1 = 64
        let x: Vec<u8> = (1..=24).collect();
        let mut acc = [0i32; 3];
        dense_p_acc(&x, &enc.entries, &enc.row_len, 4, &[0, 7, -1], &mut acc);
        assert_eq!(acc, [62, 7, 63]);
    }

    #[test]
    fn filler_exactly_at_max_skip() {
        // bits 7: max_skip 1. A weight at column 4 (gap 4): filler(skip 1) advances 2 -> gap 2,
        // filler advances 2 -> gap 0, then the entry (skip 0, magnitude 1): 3 entries.
        // Column 1 (gap 1 = max_skip) needs none.
        let p = InqParams::new(7, 0).unwrap();
        let unit = 2f32.powi(p.n2);
        let mut w = vec![0.0f32; 2 * 5];
        w[4] = unit;
        w[5 + 1] = -unit;
        let enc = encode_p_matrix(&w, 2, 5, &p).unwrap();
        // filler: skip 1 << 7 = 0x80; entry skip 0 mag 1 = 0x01; negative: 0x80 | 0x40 | 0x01
        assert_eq!(enc.entries, vec![0x80, 0x80, 0x01, 0xC1]);
        assert_eq!(enc.row_len, vec![3, 1]);
        assert_eq!(enc.decode(), vec![0, 0, 0, 0, 1, 0, -1, 0, 0, 0]);
    }

    #[test]
    fn units_beyond_i32_overflow() {
        // 7-bit, all 63 levels from n1 = 0: 1.0 is 2^62 units, which no accepted model holds
        let p = InqParams::new(7, 0).unwrap();
        assert!(matches!(
            encode_p_matrix(&[0.0, 1.0], 1, 2, &p),
            Err(QuantError::AccumulatorOverflow { channel: 0, .. })
        ));
    }

    #[test]
    fn rejects_off_grid() {
        let p = InqParams::new(3, 0).unwrap(); // levels 0.25, 0.5, 1
        for bad in [0.3f32, 2.0, 0.125, f32::NAN, f32::INFINITY] {
            let r = encode_p_matrix(&[0.0, bad], 1, 2, &p);
            assert!(
                matches!(r, Err(QuantError::NotPowerOfTwo { row: 0, col: 1, .. })),
                "{bad}: {r:?}"
            );
        }
        assert!(encode_p_matrix(&[-0.0, 0.25], 1, 2, &p).is_ok());
        assert!(matches!(
            encode_p_matrix(&[0.0], 1, 2, &p),
            Err(QuantError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn row_too_long() {
        // bits 7, max_skip 1: one weight at column 2*65535 needs 65535 fillers + 1 entry
        let p = InqParams::new(7, 0).unwrap();
        let unit = 2f32.powi(p.n2);
        let cols = 2 * 65535 + 1;
        let mut w = vec![0.0f32; cols];
        w[cols - 1] = unit;
        assert!(matches!(
            encode_p_matrix(&w, 1, cols, &p),
            Err(QuantError::RowTooLong { entries: 65536, .. })
        ));
        w[cols - 1] = 0.0;
        w[cols - 3] = unit; // 65534 fillers + 1 entry = 65535 fits
        assert_eq!(
            encode_p_matrix(&w, 1, cols, &p).unwrap().row_len,
            vec![65535]
        );
    }

    #[test]
    fn p_requant_and_layer() {
        // in 1/255, n2 = -4, out 0.05: real = 2^-4 / (255 * 0.05) = 0.0049019.. = 0.62745.. * 2^-7
        // m = round(0.0049019.. * 2^22) = round(20560.31) = 20560, shift = 22
        assert_eq!(
            p_requant(1.0 / 255.0, -4, 0.05).unwrap(),
            Requant {
                m: 20560,
                shift: 22
            }
        );
        assert!(matches!(
            p_requant(1.0, -60, 1.0),
            Err(QuantError::MultiplierOutOfRange {
                op: "p_requant",
                ..
            })
        ));
        let p = InqParams::new(3, 0).unwrap(); // unit 1/4
                                               // bias 0.5 at scale 0.1 * 0.25 = 0.025 -> 20
        let l = quantize_p_layer(&[0.25, -1.0], &[0.5], 1, 2, &p, 0.1, None).unwrap();
        assert_eq!(l.bias, vec![20]);
        assert!(l.requant.is_none());
        assert!((l.acc_scale() - 0.025).abs() < 1e-15);
        assert_eq!(l.weights.decode(), vec![1, -4]);
        // 6-bit, all 31 levels, n1 = 0: 1.0 is 2^30 units; 255 * 2^30 >= 2^31 -> rejected
        // (bias 0); with 8 levels 1.0 is 2^7 units: 255 * 128 fits
        let p6 = InqParams::new(6, 0).unwrap();
        let r = quantize_p_layer(&[1.0, 0.0], &[0.0], 1, 2, &p6, 0.1, None);
        assert!(
            matches!(r, Err(QuantError::AccumulatorOverflow { channel: 0, .. })),
            "{r:?}"
        );
        let p8 = p6.with_levels(8).unwrap();
        let l = quantize_p_layer(&[1.0, 0.0], &[0.0], 1, 2, &p8, 0.1, None).unwrap();
        assert_eq!(l.weights.decode(), vec![128, 0]);
    }

    /// (bits, rows, cols, per weight (keep draw, magnitude, negative), input, bias)
    type Case = (u8, usize, usize, Vec<(u8, u8, bool)>, Vec<u8>, Vec<i32>);

    fn arb_case() -> impl Strategy<Value = Case> {
        (2u8..=7, 1usize..6, 1usize..300).prop_flat_map(|(bits, rows, cols)| {
            let l = (PCode::max_shift(bits) + 1).min(12); // keep 255 * 300 * 2^11 < 2^31
            (
                Just(bits),
                Just(rows),
                Just(cols),
                // per weight: (keep draw 0..100, magnitude 1..=l, negative)
                proptest::collection::vec((0u8..100, 1u8..=l, any::<bool>()), rows * cols),
                proptest::collection::vec(any::<u8>(), cols),
                proptest::collection::vec(-1_000_000i32..1_000_000, rows),
            )
        })
    }

    proptest! {
        /// Encoded rows through the firmware's `dense_p_acc` equal the plain i64 dot products of
        /// the float weights scaled by 2^-n2, plus bias.
        #[test]
        fn dense_p_acc_matches_reference(
            (bits, rows, cols, ws, x, bias) in arb_case(),
            density in 1u8..100,
            n1 in -20i32..10,
        ) {
            let p = InqParams::new(bits, n1).unwrap();
            let w: Vec<f32> = ws.iter().map(|&(keep, mag, neg)| {
                if keep >= density { return 0.0; }
                let v = 2f32.powi(p.n2 + i32::from(mag) - 1);
                if neg { -v } else { v }
            }).collect();
            let enc = encode_p_matrix(&w, rows, cols, &p).unwrap();
            prop_assert_eq!(enc.row_len.iter().map(|&l| usize::from(l)).sum::<usize>(), enc.entries.len());
            let mut acc = vec![0i32; rows];
            dense_p_acc(&x, &enc.entries, &enc.row_len, bits, &bias, &mut acc);
            let unit = 2f64.powi(p.n2);
            for r in 0..rows {
                let mut want = i64::from(bias[r]);
                for c in 0..cols {
                    let k = f64::from(w[r * cols + c]) / unit; // exact: a power of two or 0
                    prop_assert_eq!(k.fract(), 0.0);
                    want += k as i64 * i64::from(x[c]);
                }
                prop_assert_eq!(i64::from(acc[r]), want, "row {}", r);
            }
            let dec = enc.decode();
            for (d, &f) in dec.iter().zip(&w) {
                prop_assert_eq!(*d as f64 * unit, f64::from(f));
            }
            // every entry canonical and every row's cursor within the row
            for &e in &enc.entries {
                prop_assert!(PCode::decode(e, bits).is_valid());
            }
        }
    }
}
