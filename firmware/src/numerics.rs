//! The integer arithmetic of every layer kind, as specified in `docs/numerics.md`.
//!
//! These are the reference ("golden") kernels: plain loops, written to be read. Every other
//! implementation (optimised firmware kernels, host quantized evaluation, RTL engines) must
//! produce exactly the same bits. They never panic on any input that passed the model reader's
//! validation; slice-length preconditions are documented per function and checked with
//! `debug_assert!` (a violation is a bug in the caller, not bad data).
//!
//! Summary of the contract (details and rationale in `docs/numerics.md`):
//! - activations are `u8` with zero point 0 (every non-final layer ends in ReLU; the image is
//!   raw 8-bit pixels), layout HWC (`[h][w][c]`, channel fastest);
//! - NP weights are `i8` in `[-127, 127]`, symmetric per output channel; conv weights are laid
//!   out `[cout][ky][kx][cin]`, dense weights `[out][in]`;
//! - bias and accumulator are `i32`; products `u8 * i8` are summed exactly;
//! - requantisation: `y = clamp((acc * m + 2^(shift-1)) >> shift, 0, 255)` with `m` a 15-bit
//!   unsigned multiplier and `1 <= shift <= 47` (single rounding, round half up);
//! - P-layer weights are `±2^k` or zero, stored as byte entries `[skip | code]` (see
//!   [`PCode`]); the sum uses shifts and adds only;
//! - the final layer outputs raw `i32` accumulators (logits); the class is the first maximum.

/// Largest valid requantisation multiplier (15 bits, so `acc * m` fits a 32x16 multiply).
pub const MULT_MAX: u16 = (1 << 15) - 1;
/// Smallest valid requantisation shift.
pub const SHIFT_MIN: u8 = 1;
/// Largest valid requantisation shift.
pub const SHIFT_MAX: u8 = 47;
/// Smallest supported P-layer code width in bits (sign + 1 magnitude bit: ternary weights).
pub const PBITS_MIN: u8 = 2;
/// Largest supported P-layer code width in bits (leaves one skip bit in the entry byte).
pub const PBITS_MAX: u8 = 7;

/// Requantisation parameters of one output channel: real multiplier `m / 2^shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    /// Multiplier, `0..=MULT_MAX`.
    pub m: u16,
    /// Right shift, `SHIFT_MIN..=SHIFT_MAX`.
    pub shift: u8,
}

impl Requant {
    /// True when both fields are in their documented ranges.
    pub const fn is_valid(self) -> bool {
        self.m <= MULT_MAX && self.shift >= SHIFT_MIN && self.shift <= SHIFT_MAX
    }
}

/// Scales an accumulator: `(acc * m + 2^(shift-1)) >> shift` (arithmetic shift, so ties round
/// towards +infinity), exact in 64 bits. Requires `rq.is_valid()`.
#[inline]
pub fn scale(acc: i32, rq: Requant) -> i64 {
    debug_assert!(rq.is_valid());
    let shift = u32::from(rq.shift).clamp(1, 47);
    let prod = i64::from(acc) * i64::from(rq.m);
    (prod + (1i64 << (shift - 1))) >> shift
}

/// Requantises an accumulator to an output activation: [`scale`], then saturate to `[0, 255]`
/// (this clamp is the ReLU, since the output zero point is 0).
#[inline]
pub fn requantize(acc: i32, rq: Requant) -> u8 {
    scale(acc, rq).clamp(0, 255) as u8
}

/// Output side length of a valid (unpadded), stride-1 convolution: `in_len - k + 1`
/// (`1 <= k <= in_len`; callers check). The one definition of the conv shape arithmetic: the
/// model reader, the kernels, the accelerator driver, the harnesses and the host use it.
pub const fn conv_out(in_len: usize, k: usize) -> usize {
    in_len + 1 - k
}

/// Output side length of the 2x2/2 max-pool (floor): an odd last row or column is dropped.
pub const fn pool_out(in_len: usize) -> usize {
    in_len / 2
}

/// Output side length of a conv layer: [`conv_out`], then [`pool_out`] when it pools.
pub const fn conv_layer_out(in_len: usize, k: usize, pool: bool) -> usize {
    let c = conv_out(in_len, k);
    if pool {
        pool_out(c)
    } else {
        c
    }
}

/// Valid 2-D convolution, stride 1, `+ bias`, requantise (+ReLU), optional fused 2x2/2 max-pool.
///
/// - `input`: `[ih][iw][cin]` u8;
/// - `weights`: `[cout][k][k][cin]` i8; `bias`, `rq`: `[cout]`;
/// - `output`: `[oh][ow][cout]` where `oh = ih-k+1`, `ow = iw-k+1`, halved (floor) when `pool`.
///
/// Pooling takes the maximum of the four requantised values (identical to requantising the
/// maximum accumulator, because requantisation is monotonic for `m >= 0`).
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    input: &[u8],
    ih: usize,
    iw: usize,
    cin: usize,
    weights: &[i8],
    bias: &[i32],
    rq: &[Requant],
    k: usize,
    cout: usize,
    pool: bool,
    output: &mut [u8],
) {
    let (ch, cw) = (conv_out(ih, k), conv_out(iw, k));
    let (oh, ow) = if pool {
        (pool_out(ch), pool_out(cw))
    } else {
        (ch, cw)
    };
    debug_assert_eq!(input.len(), ih * iw * cin);
    debug_assert_eq!(weights.len(), cout * k * k * cin);
    debug_assert!(bias.len() == cout && rq.len() == cout);
    debug_assert_eq!(output.len(), oh * ow * cout);
    let p = if pool { 2 } else { 1 };
    for oy in 0..oh {
        for ox in 0..ow {
            for co in 0..cout {
                let mut best = 0u8;
                for py in 0..p {
                    for px in 0..p {
                        let (y, x) = (oy * p + py, ox * p + px);
                        let acc = conv_acc(input, iw, cin, weights, bias[co], k, co, y, x);
                        best = best.max(requantize(acc, rq[co]));
                    }
                }
                output[(oy * ow + ox) * cout + co] = best;
            }
        }
    }
}

/// The accumulator of one convolution output: `bias + sum(w * x)` over the `k x k x cin` window
/// whose top-left corner is `(y, x)`. Wrapping adds: the model reader proves no overflow.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn conv_acc(
    input: &[u8],
    iw: usize,
    cin: usize,
    weights: &[i8],
    bias: i32,
    k: usize,
    co: usize,
    y: usize,
    x: usize,
) -> i32 {
    let mut acc = bias;
    for ky in 0..k {
        for kx in 0..k {
            for ci in 0..cin {
                let a = i32::from(input[((y + ky) * iw + x + kx) * cin + ci]);
                let w = i32::from(weights[((co * k + ky) * k + kx) * cin + ci]);
                acc = acc.wrapping_add(a * w);
            }
        }
    }
    acc
}

/// Standalone 2x2/2 max-pool (floor) over `[h][w][c]` u8.
pub fn maxpool2(input: &[u8], h: usize, w: usize, c: usize, output: &mut [u8]) {
    let (oh, ow) = (pool_out(h), pool_out(w));
    debug_assert_eq!(input.len(), h * w * c);
    debug_assert_eq!(output.len(), oh * ow * c);
    for oy in 0..oh {
        for ox in 0..ow {
            for ch in 0..c {
                let at = |y: usize, x: usize| input[(y * w + x) * c + ch];
                let m = at(2 * oy, 2 * ox)
                    .max(at(2 * oy, 2 * ox + 1))
                    .max(at(2 * oy + 1, 2 * ox))
                    .max(at(2 * oy + 1, 2 * ox + 1));
                output[(oy * ow + ox) * c + ch] = m;
            }
        }
    }
}

/// Dense accumulators: `acc[o] = bias[o] + sum_i w[o][i] * x[i]` (`weights`: `[out][in]` i8).
pub fn dense_acc(input: &[u8], weights: &[i8], bias: &[i32], acc: &mut [i32]) {
    let (n_in, n_out) = (input.len(), acc.len());
    debug_assert_eq!(weights.len(), n_in * n_out);
    debug_assert_eq!(bias.len(), n_out);
    for o in 0..n_out {
        let mut a = bias[o];
        for i in 0..n_in {
            a = a.wrapping_add(i32::from(input[i]) * i32::from(weights[o * n_in + i]));
        }
        acc[o] = a;
    }
}

/// Requantises accumulators to u8 activations, channel by channel.
pub fn requantize_all(acc: &[i32], rq: &[Requant], output: &mut [u8]) {
    debug_assert!(acc.len() == rq.len() && acc.len() == output.len());
    for ((o, &a), &r) in output.iter_mut().zip(acc).zip(rq) {
        *o = requantize(a, r);
    }
}

/// One decoded P-layer entry byte. Layout for code width `b` (`PBITS_MIN..=PBITS_MAX`):
///
/// ```text
///  bit 7 ........ b | b-1  | b-2 ........ 0
///  skip (8-b bits)  | sign | magnitude (b-1 bits)
/// ```
///
/// The entry first advances the input cursor by `skip` zero weights; if `magnitude != 0` the
/// weight at the cursor is `(-1)^sign * 2^(magnitude-1)` (in units of the layer's `2^n2`);
/// then the cursor advances by one. `magnitude == 0` is the zero code (a filler entry that only
/// skips `skip + 1` positions); `sign == 1` with `magnitude == 0` is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PCode {
    /// Zero weights skipped before this entry.
    pub skip: u8,
    /// True for a negative weight.
    pub negative: bool,
    /// 0 = zero weight (filler), else the weight is `2^(magnitude-1)`.
    pub magnitude: u8,
}

impl PCode {
    /// Splits an entry byte for code width `bits`. Requires `PBITS_MIN <= bits <= PBITS_MAX`.
    #[inline]
    pub const fn decode(entry: u8, bits: u8) -> PCode {
        let mag_bits = bits - 1;
        PCode {
            skip: entry >> bits,
            negative: (entry >> mag_bits) & 1 == 1,
            magnitude: entry & ((1 << mag_bits) - 1),
        }
    }

    /// Packs the fields back into an entry byte (the host exporter's encoder).
    #[inline]
    pub const fn encode(self, bits: u8) -> u8 {
        (self.skip << bits) | ((self.negative as u8) << (bits - 1)) | self.magnitude
    }

    /// True for a canonical code (no negative zero).
    #[inline]
    pub const fn is_valid(self) -> bool {
        !(self.negative && self.magnitude == 0)
    }

    /// Largest skip an entry can carry for code width `bits`.
    pub const fn max_skip(bits: u8) -> u8 {
        (1u16 << (8 - bits)) as u8 - 1
    }

    /// Largest weight shift (`magnitude - 1`) for code width `bits`.
    pub const fn max_shift(bits: u8) -> u8 {
        (1 << (bits - 1)) - 2
    }
}

/// Why [`encode_p_entries`] could not encode a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PEncodeError {
    /// The code width is outside `PBITS_MIN..=PBITS_MAX`.
    Bits {
        /// The code width given.
        bits: u8,
    },
    /// The weight of this input needs a larger magnitude than the code width holds.
    Weight {
        /// Input index.
        index: usize,
    },
    /// The entries do not fit the output slice (one byte per weight always suffices).
    Full {
        /// Length of the output slice.
        capacity: usize,
    },
}

impl core::fmt::Display for PEncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PEncodeError::Bits { bits } => write!(f, "P code width {bits} outside 2..=7"),
            PEncodeError::Weight { index } => {
                write!(f, "weight of input {index} needs a larger P code")
            }
            PEncodeError::Full { capacity } => {
                write!(f, "P row entries do not fit {capacity} bytes")
            }
        }
    }
}

impl core::error::Error for PEncodeError {}

/// Writes the entry bytes of one P-layer row into the start of `out` and returns their count:
/// the one P-row encoder (the host exporter's `model::encode_p_row` and the firmware's
/// [`crate::kernels::DenseAsP`] call it; a `dyn` iterator, so the soft-core holds one copy).
///
/// `weights` yields the weight of each input in order as a code whose `skip` is ignored:
/// `magnitude` 0 for a zero weight, else the weight `(-1)^negative * 2^(magnitude-1)` with
/// `magnitude - 1 <= PCode::max_shift(bits)`. The encoder sets the skips: zero runs longer than
/// `PCode::max_skip(bits)` get filler entries (magnitude 0), trailing zeros no entries. Every
/// entry advances the cursor by at least one input, so a row of `n` weights has at most `n`
/// entries and an `out` of `n` bytes always suffices.
#[inline(never)]
pub fn encode_p_entries(
    weights: &mut dyn Iterator<Item = PCode>,
    bits: u8,
    out: &mut [u8],
) -> Result<usize, PEncodeError> {
    if !(PBITS_MIN..=PBITS_MAX).contains(&bits) {
        return Err(PEncodeError::Bits { bits });
    }
    let max_skip = PCode::max_skip(bits);
    let max_mag = PCode::max_shift(bits) + 1;
    let full = PEncodeError::Full {
        capacity: out.len(),
    };
    let (mut n, mut zeros) = (0usize, 0usize);
    for (index, w) in weights.enumerate() {
        if w.magnitude == 0 {
            zeros += 1;
            continue;
        }
        if w.magnitude > max_mag {
            return Err(PEncodeError::Weight { index });
        }
        loop {
            // the weight's entry once the zeros fit its skip field, else a filler, which
            // advances skip + 1 positions
            let code = if zeros <= usize::from(max_skip) {
                PCode {
                    skip: zeros as u8,
                    ..w
                }
            } else {
                PCode {
                    skip: max_skip,
                    negative: false,
                    magnitude: 0,
                }
            };
            *out.get_mut(n).ok_or(full)? = code.encode(bits);
            n += 1;
            if code.magnitude != 0 {
                break;
            }
            zeros -= usize::from(max_skip) + 1;
        }
        zeros = 0;
    }
    Ok(n)
}

/// P-layer (pruned power-of-two) dense accumulators, computed with shifts and adds only.
///
/// - `entries`: all rows' entry bytes, row after row; `row_len[o]` is row `o`'s entry count;
/// - `acc[o] = bias[o] + sum over the row's non-zero entries of ±(x[cursor] << (magnitude-1))`.
///
/// Requires (checked by the model reader): every code valid, every row's cursor advance
/// `sum(skip + 1) <= input.len()`, and no accumulator overflow.
pub fn dense_p_acc(
    input: &[u8],
    entries: &[u8],
    row_len: &[u16],
    bits: u8,
    bias: &[i32],
    acc: &mut [i32],
) {
    debug_assert!(row_len.len() == acc.len() && bias.len() == acc.len());
    let mut e = 0usize;
    for o in 0..acc.len() {
        let mut a = bias[o];
        let mut cursor = 0usize;
        for _ in 0..row_len[o] {
            let c = PCode::decode(entries[e], bits);
            e += 1;
            cursor += usize::from(c.skip);
            if c.magnitude != 0 {
                let term = i32::from(input[cursor]) << (c.magnitude - 1);
                a = if c.negative {
                    a.wrapping_sub(term)
                } else {
                    a.wrapping_add(term)
                };
            }
            cursor += 1;
        }
        acc[o] = a;
    }
}

/// Index of the first maximum (ties go to the lowest index); `None` for an empty slice.
pub fn argmax(logits: &[i32]) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (i, &v) in logits.iter().enumerate() {
        match best {
            Some((_, b)) if v <= b => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requant_rounds_half_up_and_saturates() {
        // m / 2^shift = 1/2: 3 * 0.5 = 1.5 -> 2 ; -3 * 0.5 = -1.5 -> -1 (towards +inf)
        let half = Requant {
            m: 1 << 14,
            shift: 15,
        };
        assert_eq!(scale(3, half), 2);
        assert_eq!(scale(-3, half), -1);
        assert_eq!(scale(5, half), 3);
        assert_eq!(scale(-5, half), -2);
        assert_eq!(requantize(-3, half), 0);
        assert_eq!(requantize(1000, half), 255);
        assert_eq!(requantize(509, half), 255); // 254.5 -> 255
        assert_eq!(requantize(507, half), 254); // 253.5 -> 254
                                                // extreme: largest multiplier, smallest shift, extreme accumulators never overflow i64
        let big = Requant {
            m: MULT_MAX,
            shift: SHIFT_MIN,
        };
        assert_eq!(scale(i32::MAX, big), (i64::from(i32::MAX) * 32767 + 1) >> 1);
        assert_eq!(scale(i32::MIN, big), (i64::from(i32::MIN) * 32767 + 1) >> 1);
        let tiny = Requant {
            m: 1,
            shift: SHIFT_MAX,
        };
        assert_eq!(scale(i32::MAX, tiny), 0);
        assert_eq!(scale(i32::MIN, tiny), 0); // -2^31 + 2^46 > 0 before the shift
    }

    #[test]
    fn pcode_round_trip_and_limits() {
        for bits in PBITS_MIN..=PBITS_MAX {
            for byte in 0..=255u8 {
                let c = PCode::decode(byte, bits);
                assert_eq!(c.encode(bits), byte);
                assert!(c.skip <= PCode::max_skip(bits));
                if c.magnitude != 0 {
                    assert!(c.magnitude - 1 <= PCode::max_shift(bits));
                }
            }
        }
        assert_eq!(PCode::max_shift(5), 14);
        assert_eq!(PCode::max_skip(4), 15);
    }

    #[test]
    fn argmax_first_maximum() {
        assert_eq!(argmax(&[1, 5, 5, -2]), Some(1));
        assert_eq!(argmax(&[i32::MIN]), Some(0));
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn conv_shapes_of_the_shipped_cnn_and_odd_edges() {
        // the shipped CNN (sim/tests/expected/soc_paper_board.txt: out 31x31x10, 13x13x20):
        // 64 -k3-> 62 -pool-> 31 -k5-> 27 -pool-> 13
        assert_eq!((conv_out(64, 3), conv_layer_out(64, 3, true)), (62, 31));
        assert_eq!((conv_out(31, 5), conv_layer_out(31, 5, true)), (27, 13));
        // the pool floors an odd side; k = side leaves one pixel, which a pool drops
        assert_eq!((pool_out(27), pool_out(1)), (13, 0));
        assert_eq!(
            (conv_layer_out(5, 5, false), conv_layer_out(5, 5, true)),
            (1, 0)
        );
    }
}
