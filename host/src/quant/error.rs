//! The one error type of the quantiser.

use thiserror::Error;

/// Why a quantisation step refused its input. Every variant names the operation (`op`, the
/// function that failed) so the CLI can report it without a backtrace; the integrator adds
/// the layer name on top (e.g. with `anyhow::Context`).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum QuantError {
    /// A target sparsity outside `[0, 1)` (a layer cannot be pruned to nothing).
    #[error("{op}: sparsity {sparsity} outside [0, 1)")]
    BadSparsity {
        /// Failing operation.
        op: &'static str,
        /// The rejected value.
        sparsity: f64,
    },
    /// A P-layer code width outside `PBITS_MIN..=PBITS_MAX` (2..=7).
    #[error("{op}: P-layer code width {bits} bits outside 2..=7")]
    BadBits {
        /// Failing operation.
        op: &'static str,
        /// The rejected width.
        bits: u8,
    },
    /// A P-layer level count outside `1..=2^(bits-1) - 1`.
    #[error("{op}: {levels} non-zero levels, the code holds 1..={max}")]
    BadLevels {
        /// Failing operation.
        op: &'static str,
        /// The rejected count.
        levels: u8,
        /// Most the code width holds.
        max: u8,
    },
    /// A real requantisation multiplier that `m / 2^shift` (`m` in `[2^14, 2^15)`, shift in
    /// `1..=47`) cannot represent to 15 significant bits: not finite, not positive, below
    /// `2^-33` or at/above `16383.75`.
    #[error(
        "{op}: multiplier {real:e}{} outside the representable range [2^-33, 16383.75) \
         (m 15-bit, shift 1..=47)",
        channel.map(|c| format!(" of channel {c}")).unwrap_or_default()
    )]
    MultiplierOutOfRange {
        /// Failing operation.
        op: &'static str,
        /// Output channel, when the multiplier belongs to one.
        channel: Option<usize>,
        /// The rejected multiplier.
        real: f64,
    },
    /// A bias that does not fit `i32` at scale `in_scale * w_scale[channel]`.
    #[error(
        "{op}: bias {value} of channel {channel} is {quantised:e} at scale {scale:e}, outside i32"
    )]
    BiasOverflow {
        /// Failing operation.
        op: &'static str,
        /// Output channel.
        channel: usize,
        /// The float bias.
        value: f32,
        /// The bias scale `in_scale * w_scale[channel]`.
        scale: f64,
        /// `value / scale`, rounded: what would have been stored.
        quantised: f64,
    },
    /// A channel whose worst-case accumulator `|bias| + 255 * sum|w|` reaches `2^31` (the model
    /// reader's bound, `docs/numerics.md`, accumulator overflow).
    #[error("{op}: channel {channel} worst-case accumulator {bound} >= 2^31")]
    AccumulatorOverflow {
        /// Failing operation.
        op: &'static str,
        /// Output channel.
        channel: usize,
        /// `|bias| + 255 * sum|w|`.
        bound: i64,
    },
    /// A buffer whose length disagrees with the shape it was described with.
    #[error("{op}: {what} has {got} elements, expected {expected}")]
    ShapeMismatch {
        /// Failing operation.
        op: &'static str,
        /// Which argument (e.g. `"weights [cout][cin][k][k]"`).
        what: &'static str,
        /// Length implied by the shape arguments.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A scale (activation, weight or INQ `max|w|`) that is zero, negative or not finite where a
    /// positive finite one is needed, or whose powers of two leave the f32 range.
    #[error("{op}: scale {scale:e} is not a usable positive finite value")]
    BadScale {
        /// Failing operation.
        op: &'static str,
        /// The rejected scale.
        scale: f64,
    },
    /// A NaN or infinite input value.
    #[error("{op}: non-finite value {value} at index {index}")]
    NonFinite {
        /// Failing operation.
        op: &'static str,
        /// Flat index into the input.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A calibration percentile outside `(0, 100]`.
    #[error("{op}: percentile {p} outside (0, 100]")]
    BadPercentile {
        /// Failing operation.
        op: &'static str,
        /// The rejected percentile.
        p: f64,
    },
    /// An INQ accumulated portion outside `(0, 1]`.
    #[error("{op}: INQ portion {portion} outside (0, 1]")]
    BadPortion {
        /// Failing operation.
        op: &'static str,
        /// The rejected portion.
        portion: f64,
    },
    /// A P-layer weight that is neither 0 nor `±2^e` with `n2 <= e <= n2 + L - 1`.
    #[error("{op}: weight {value:e} at [{row}][{col}] is not 0 or ±2^e with e in {n2}..={e_max}")]
    NotPowerOfTwo {
        /// Failing operation.
        op: &'static str,
        /// Row (output) index.
        row: usize,
        /// Column (input) index.
        col: usize,
        /// The weight.
        value: f32,
        /// Smallest allowed exponent.
        n2: i32,
        /// Largest allowed exponent.
        e_max: i32,
    },
    /// A P-layer row needing more entries than `row_len: u16` can count.
    #[error("{op}: row {row} needs {entries} entries, more than u16::MAX")]
    RowTooLong {
        /// Failing operation.
        op: &'static str,
        /// Row index.
        row: usize,
        /// Entries the row needs.
        entries: usize,
    },
    /// An empty input where at least one value is needed (e.g. calibration samples).
    #[error("{op}: empty {what}")]
    Empty {
        /// Failing operation.
        op: &'static str,
        /// Which argument.
        what: &'static str,
    },
}

/// Result alias of the quantiser.
pub type Result<T> = core::result::Result<T, QuantError>;

/// Checks `got == expected` for argument `what` of `op`.
pub(crate) fn check_len(
    op: &'static str,
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(QuantError::ShapeMismatch {
            op,
            what,
            expected,
            got,
        })
    }
}

/// Checks every value is finite.
pub(crate) fn check_finite(op: &'static str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(QuantError::NonFinite {
            op,
            index,
            value: values[index],
        }),
    }
}

/// Checks the model reader's accumulator bound `|bias[c]| + 255 * sum_i |w[c][i]| < 2^31` for
/// integer weights `w: [cout][per]` (`abs_w` gives `|w|` as i64).
pub(crate) fn check_acc_bound<T: Copy>(
    op: &'static str,
    weights: &[T],
    bias: &[i32],
    abs_w: impl Fn(T) -> i64,
) -> Result<()> {
    let per = if bias.is_empty() {
        0
    } else {
        weights.len() / bias.len()
    };
    for (channel, &b) in bias.iter().enumerate() {
        let row = &weights[channel * per..(channel + 1) * per];
        let bound = i64::from(b).abs() + 255 * row.iter().map(|&w| abs_w(w)).sum::<i64>();
        if bound >= 1 << 31 {
            return Err(QuantError::AccumulatorOverflow { op, channel, bound });
        }
    }
    Ok(())
}

/// Checks a code width against the firmware's supported range.
pub(crate) fn check_bits(op: &'static str, bits: u8) -> Result<()> {
    use firmware::numerics::{PBITS_MAX, PBITS_MIN};
    if (PBITS_MIN..=PBITS_MAX).contains(&bits) {
        Ok(())
    } else {
        Err(QuantError::BadBits { op, bits })
    }
}

/// Checks a scale is positive and finite.
pub(crate) fn check_scale(op: &'static str, scale: f64) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(QuantError::BadScale { op, scale })
    }
}
