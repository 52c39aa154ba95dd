//! Real multipliers to the firmware's `(m, shift)` requantisation pair.

use firmware::numerics::{Requant, SHIFT_MAX, SHIFT_MIN};

use super::error::{QuantError, Result};

/// Smallest multiplier [`quantize_multiplier`] accepts: `2^-33 - 2^-49`. Reals in
/// `[2^-33 - 2^-49, 2^-33)` have `q * 2^15 >= 32767.5` at `e = -33`, round up to `m = 2^15` and
/// renormalise to `m = 2^14`, `shift = 47`; anything smaller would need shift 48.
pub const MULTIPLIER_MIN: f64 = 1.0 / (1u64 << 33) as f64 - 1.0 / (1u64 << 49) as f64;
/// Smallest multiplier [`quantize_multiplier`] rejects as too large: `16383.75`
/// (`q * 2^15` would round to `2^15` at `shift = 1`, i.e. need shift 0).
pub const MULTIPLIER_LIMIT: f64 = 16383.75;

/// `2^e` exactly, for `-1022 <= e <= 1023` (built from the bit pattern; no libm rounding).
pub(crate) fn pow2(e: i32) -> f64 {
    assert!(
        (-1022..=1023).contains(&e),
        "pow2({e}) outside the normal f64 range"
    );
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `frexp` for positive normal `x`: `(q, e)` with `x = q * 2^e`, `q` in `[0.5, 1)`; exact.
fn frexp(x: f64) -> (f64, i32) {
    debug_assert!(x.is_normal() && x > 0.0);
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    // x = 1.f * 2^(biased-1023) = 0.1f * 2^(biased-1022)
    let e = biased - 1022;
    let q = f64::from_bits((x.to_bits() & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (q, e)
}

/// The 15-bit analogue of TFLite's `QuantizeMultiplier`: finds `m`, `shift` with
/// `m / 2^shift ≈ real`, `m` in `[2^14, 2^15)` (15 significant bits, so the relative error is at
/// most `2^-15`) and `shift` in `SHIFT_MIN..=SHIFT_MAX` (1..=47).
///
/// Algorithm: `real = q * 2^e` with `q` in `[0.5, 1)` (frexp); `m = round(q * 2^15)` rounding
/// half away from zero (as TFLite's `std::round`); if that gives `m = 2^15` then `m = 2^14` and
/// `e += 1`; `shift = 15 - e`.
///
/// Accepted range: `MULTIPLIER_MIN <= real < MULTIPLIER_LIMIT`, i.e. about `[2^-33, 2^14)`.
/// Outside it this returns [`QuantError::MultiplierOutOfRange`] instead of clamping: a
/// multiplier below `2^-33` maps every `i32` accumulator to 0 (`|acc * real| < 2^31 * 2^-33 =
/// 1/4`), i.e. describes a dead channel, which the caller should see and handle (for example
/// by zeroing the channel) rather than have hidden in an `m = 0`. Zero, negative and
/// non-finite multipliers are rejected the same way (`op` = `"quantize_multiplier"`,
/// `channel` = `None`).
pub fn quantize_multiplier(real: f64) -> Result<Requant> {
    let err = QuantError::MultiplierOutOfRange {
        op: "quantize_multiplier",
        channel: None,
        real,
    };
    if !(MULTIPLIER_MIN..MULTIPLIER_LIMIT).contains(&real) {
        return Err(err);
    }
    let (q, mut e) = frexp(real);
    // q * 2^15 is exact (power-of-two scaling); f64::round rounds half away from zero.
    let mut m = (q * 32768.0).round() as u32;
    if m == 1 << 15 {
        m = 1 << 14;
        e += 1;
    }
    let shift = 15 - e;
    // The range check above guarantees this; keep the firmware invariant explicit.
    if !(i32::from(SHIFT_MIN)..=i32::from(SHIFT_MAX)).contains(&shift) {
        return Err(err);
    }
    debug_assert!((1 << 14..1 << 15).contains(&m));
    Ok(Requant {
        m: m as u16,
        shift: shift as u8,
    })
}

/// The same with the output channel recorded in the error.
pub(crate) fn quantize_multiplier_ch(
    op: &'static str,
    channel: usize,
    real: f64,
) -> Result<Requant> {
    quantize_multiplier(real).map_err(|_| QuantError::MultiplierOutOfRange {
        op,
        channel: Some(channel),
        real,
    })
}

/// The real number a requantisation pair stands for: `m / 2^shift`.
pub fn requant_value(rq: Requant) -> f64 {
    f64::from(rq.m) * pow2(-i32::from(rq.shift))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rq(m: u16, shift: u8) -> Requant {
        Requant { m, shift }
    }

    #[test]
    fn hand_computed_multipliers() {
        // 0.5 = 0.5 * 2^0 -> m = 0.5 * 2^15 = 16384, shift = 15 - 0
        assert_eq!(quantize_multiplier(0.5), Ok(rq(16384, 15)));
        // 1.0 = 0.5 * 2^1 -> m = 16384, shift = 14
        assert_eq!(quantize_multiplier(1.0), Ok(rq(16384, 14)));
        // 0.75 = 0.75 * 2^0 -> m = 24576, shift = 15
        assert_eq!(quantize_multiplier(0.75), Ok(rq(24576, 15)));
        // 1/255: 2^-8 < 1/255 < 2^-7, so q = 128/255, e = -7;
        // q * 2^15 = 4194304/255 = 16448.2509.. -> 16448, shift = 15 + 7 = 22
        assert_eq!(quantize_multiplier(1.0 / 255.0), Ok(rq(16448, 22)));
        // tie: q * 2^15 = 16384.5 exactly (real = 16384.5 / 2^15) -> away from zero: 16385
        assert_eq!(quantize_multiplier(16384.5 / 32768.0), Ok(rq(16385, 15)));
        // 1 - 2^-15: q * 2^15 = 32767 -> m = 32767, shift 15
        assert_eq!(quantize_multiplier(1.0 - 1.0 / 32768.0), Ok(rq(32767, 15)));
        // 1 - 2^-16: q * 2^15 = 32767.5 -> rounds to 2^15 -> renormalised m = 2^14, shift 14
        assert_eq!(quantize_multiplier(1.0 - 1.0 / 65536.0), Ok(rq(16384, 14)));
    }

    #[test]
    fn range_edges() {
        // 2^-33 = 0.5 * 2^-32 -> m = 2^14, shift = 15 + 32 = 47 (the largest shift)
        assert_eq!(quantize_multiplier(pow2(-33)), Ok(rq(16384, 47)));
        // 2^-33 - 2^-49 = (2^15 - 1/2) / 2^15 * 2^-33: q*2^15 = 32767.5 -> 2^15 -> 2^14 at e = -32
        assert_eq!(quantize_multiplier(MULTIPLIER_MIN), Ok(rq(16384, 47)));
        // just below: q*2^15 < 32767.5 -> would need shift 48
        let below = f64::from_bits(MULTIPLIER_MIN.to_bits() - 1);
        assert!(matches!(
            quantize_multiplier(below),
            Err(QuantError::MultiplierOutOfRange { .. })
        ));
        assert!(quantize_multiplier(pow2(-34)).is_err());
        // 16383.7 = 0.99998.. * 2^14 -> q*2^15 = 32767.4 -> 32767, shift = 15 - 14 = 1
        assert_eq!(quantize_multiplier(16383.7), Ok(rq(32767, 1)));
        // 16383.75: q*2^15 = 32767.5 -> 2^15 -> shift 0: rejected
        assert!(quantize_multiplier(MULTIPLIER_LIMIT).is_err());
        for bad in [0.0, -0.5, f64::NAN, f64::INFINITY, 1e-300, 1e6] {
            assert!(quantize_multiplier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn frexp_is_exact() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.75), (0.75, 0));
        assert_eq!(frexp(3.0), (0.75, 2));
        assert_eq!(frexp(pow2(-40)), (0.5, -39));
    }

    proptest! {
        /// 15 significant bits: |m/2^shift - real| <= 2^-15 * real over the whole range.
        #[test]
        fn relative_error_at_most_2_pow_minus_15(e in -33i32..14, frac in 0.0f64..1.0) {
            let real = (1.0 + frac) * pow2(e);
            prop_assume!(real < MULTIPLIER_LIMIT);
            let r = quantize_multiplier(real).unwrap();
            prop_assert!(r.is_valid());
            prop_assert!((1 << 14..1 << 15).contains(&r.m));
            let rel = (requant_value(r) - real).abs() / real;
            prop_assert!(rel <= pow2(-15), "real {real} -> {r:?}, rel {rel}");
        }

        /// The pair reproduces rounding of acc * real for small accumulators (|acc| < 2^14 keeps
        /// the 2^-15 relative error under 1/2), except exactly at .5 ties where the two may differ.
        #[test]
        fn scale_tracks_real_product(e in -10i32..2, frac in 0.0f64..1.0, acc in -8000i32..8000) {
            let real = (1.0 + frac) * pow2(e);
            let r = quantize_multiplier(real).unwrap();
            let exact = f64::from(acc) * real;
            let got = firmware::numerics::scale(acc, r) as f64;
            prop_assert!((got - exact).abs() <= 0.5 + f64::from(acc.abs()) * real * pow2(-15) + 1e-12);
        }
    }
}
