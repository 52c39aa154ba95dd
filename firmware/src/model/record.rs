//! The layer table: decoding and validating one 40-byte layer record (`docs/model-format.md`).
//!
//! [`parse_record`] runs the checks in sections, always in this order, because the order
//! fixes which [`FormatError`] a record with several defects reports (the model and fuzz
//! tests pin it):
//!
//! 1. [`fields`]: the record's own fields (kind, flags, final flag, reserved, `n2`, `n_out`);
//! 2. [`shapes`]: the output shape and weight count the fields imply for the input shape
//!    ([`conv_shape`] or [`dense_shape`]);
//! 3. [`limits`]: the output size and the running multiply-accumulate count;
//! 4. [`arrays`]: the weight length, then every array's offset and length;
//! 5. the array contents: [`check_requant`], then [`check_p_rows`] or [`check_np_rows`]
//!    (P codes, row bounds and the accumulator bound per output).

use super::bytes::{rd_u32, I32s, RequantParams, U16s};
use super::error::{Array, FormatError, Limit};
use super::{
    Shape, FLAG_FINAL, FLAG_POOL, KIND_CONV, KIND_DENSE, KIND_DENSE_P, MAX_ACTIVATION_BYTES,
    MAX_MACS,
};
use crate::numerics::{conv_layer_out, conv_out, PCode, PBITS_MAX, PBITS_MIN};

/// Decoded layer record, with offsets already validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Rec {
    pub(super) kind: u8,
    pub(super) flags: u8,
    pub(super) param: u8,
    pub(super) n2: i8,
    pub(super) n_in: usize,
    pub(super) n_out: usize,
    pub(super) w: (usize, usize),
    pub(super) bias: (usize, usize),
    pub(super) m: (usize, usize),
    pub(super) shift: (usize, usize),
    pub(super) row_len: (usize, usize),
    pub(super) input: Shape,
    pub(super) output: Shape,
}

/// Where a layer record sits: its offset, index, whether it is the last one, and the data area.
#[derive(Clone, Copy)]
pub(super) struct Place {
    pub(super) r: usize,
    pub(super) li: u16,
    pub(super) last: bool,
    pub(super) data: (usize, usize),
}

/// The fixed fields of a record, checked against each other (not yet against the shapes).
#[derive(Clone, Copy)]
struct Fields {
    kind: u8,
    flags: u8,
    param: u8,
    n2: i8,
    n_in: usize,
    n_out: usize,
    w_len: usize,
    is_final: bool,
}

/// The `(offset, len)` of each array of a record, checked to lie in the data area.
#[derive(Clone, Copy)]
struct Arrays {
    w: (usize, usize),
    bias: (usize, usize),
    m: (usize, usize),
    shift: (usize, usize),
    row_len: (usize, usize),
}

/// A field (or flag) not allowed for this layer.
fn bad(li: u16, field: &'static str, value: u32) -> FormatError {
    FormatError::BadLayer {
        layer: li,
        field,
        value,
    }
}

/// Shapes that do not chain, or an array length that does not match them.
fn mismatch(li: u16, expected: usize, got: usize) -> FormatError {
    FormatError::ShapeMismatch {
        layer: li,
        expected: u32::try_from(expected).unwrap_or(u32::MAX),
        got: u32::try_from(got).unwrap_or(u32::MAX),
    }
}

/// Parses and validates one layer record; `macs` is the running total of the layers before
/// (checked against [`MAX_MACS`] together with the output size before any array is scanned).
pub(super) fn parse_record(
    blob: &[u8],
    at: &Place,
    input: Shape,
    macs: &mut u64,
) -> Result<Rec, FormatError> {
    let li = at.li;
    let f = fields(blob, at)?;
    let (output, w_expected, per_out) = shapes(&f, li, input)?;
    limits(&f, li, input, output, macs)?;
    let a = arrays(blob, at, &f, w_expected)?;
    let sl = |(o, n): (usize, usize)| &blob[o..o + n];
    if !f.is_final {
        let rq = RequantParams {
            m: U16s::new(sl(a.m)),
            shift: sl(a.shift),
        };
        check_requant(li, rq)?;
    }
    let biases = I32s::new(sl(a.bias));
    if f.kind == KIND_DENSE_P {
        check_p_rows(li, &f, sl(a.w), U16s::new(sl(a.row_len)), biases)?;
    } else {
        check_np_rows(li, sl(a.w), per_out, biases)?;
    }
    Ok(Rec {
        kind: f.kind,
        flags: f.flags,
        param: f.param,
        n2: f.n2,
        n_in: f.n_in,
        n_out: f.n_out,
        w: a.w,
        bias: a.bias,
        m: a.m,
        shift: a.shift,
        row_len: a.row_len,
        input,
        output,
    })
}

/// Section 1: reads the fixed fields and checks them against each other: a known kind, the
/// final flag on exactly the last layer (a dense kind), allowed flags, the reserved word, `n2`
/// only on P layers, and `n_out > 0`.
fn fields(blob: &[u8], at: &Place) -> Result<Fields, FormatError> {
    let Place { r, li, last, .. } = *at;
    let kind = blob.get(r).copied().unwrap_or(0);
    let flags = blob.get(r + 1).copied().unwrap_or(0);
    let param = blob.get(r + 2).copied().unwrap_or(0);
    let n2 = blob.get(r + 3).copied().unwrap_or(0) as i8;
    let n_in = rd_u32(blob, r + 4)? as usize;
    let n_out = rd_u32(blob, r + 8)? as usize;
    let w_len = rd_u32(blob, r + 16)? as usize;
    if !matches!(kind, KIND_CONV | KIND_DENSE | KIND_DENSE_P) {
        return Err(bad(li, "kind", kind.into()));
    }
    let is_final = flags & FLAG_FINAL != 0;
    if is_final != last || (is_final && kind == KIND_CONV) {
        return Err(FormatError::BadFinalLayer { layer: li });
    }
    let allowed = if kind == KIND_CONV {
        FLAG_POOL | FLAG_FINAL
    } else {
        FLAG_FINAL
    };
    if flags & !allowed != 0 {
        return Err(bad(li, "flags", flags.into()));
    }
    if rd_u32(blob, r + 36)? != 0 {
        return Err(bad(li, "reserved", rd_u32(blob, r + 36)?));
    }
    if kind != KIND_DENSE_P && n2 != 0 {
        return Err(bad(li, "n2", n2 as u8 as u32));
    }
    if n_out == 0 {
        return Err(FormatError::BadShape { layer: li });
    }
    Ok(Fields {
        kind,
        flags,
        param,
        n2,
        n_in,
        n_out,
        w_len,
        is_final,
    })
}

/// Section 2: the output shape, the weight-array length the shapes require (`None` on
/// overflow) and, for NP layers, the weights per output channel (0 for P layers).
fn shapes(f: &Fields, li: u16, input: Shape) -> Result<(Shape, Option<usize>, usize), FormatError> {
    let in_len = input
        .checked_len()
        .ok_or(FormatError::BadShape { layer: li })?;
    if f.kind == KIND_CONV {
        conv_shape(f, li, input)
    } else {
        dense_shape(f, li, in_len)
    }
}

/// [`shapes`] of a convolution: `k x k` valid, stride 1, `n_in` = the input's channels,
/// halved (floor) by the fused pool.
fn conv_shape(
    f: &Fields,
    li: u16,
    input: Shape,
) -> Result<(Shape, Option<usize>, usize), FormatError> {
    let k = usize::from(f.param);
    if k == 0 {
        return Err(bad(li, "k", 0));
    }
    if f.n_in != input.c {
        return Err(mismatch(li, input.c, f.n_in));
    }
    if k > input.h || k > input.w {
        return Err(mismatch(li, input.h.min(input.w), k));
    }
    let pool = f.flags & FLAG_POOL != 0;
    let out = Shape {
        h: conv_layer_out(input.h, k, pool),
        w: conv_layer_out(input.w, k, pool),
        c: f.n_out,
    };
    let wl = f
        .n_out
        .checked_mul(k * k)
        .and_then(|x| x.checked_mul(f.n_in));
    Ok((out, wl, (k * k).saturating_mul(f.n_in)))
}

/// [`shapes`] of a dense layer (NP or P): `n_in` = the flattened input, `1 x 1 x n_out` out;
/// a P layer's code width must be in `PBITS_MIN..=PBITS_MAX` and its weight length is its
/// entry count (checked against the row lengths later), an NP layer's `param` must be 0.
fn dense_shape(
    f: &Fields,
    li: u16,
    in_len: usize,
) -> Result<(Shape, Option<usize>, usize), FormatError> {
    if f.n_in != in_len {
        return Err(mismatch(li, in_len, f.n_in));
    }
    let out = Shape {
        h: 1,
        w: 1,
        c: f.n_out,
    };
    if f.kind == KIND_DENSE_P {
        if !(PBITS_MIN..=PBITS_MAX).contains(&f.param) {
            return Err(bad(li, "bits", f.param.into()));
        }
        Ok((out, Some(f.w_len), 0))
    } else {
        if f.param != 0 {
            return Err(bad(li, "param", f.param.into()));
        }
        Ok((out, f.n_out.checked_mul(f.n_in), f.n_in))
    }
}

/// Section 3: the output is non-empty and within [`MAX_ACTIVATION_BYTES`], and the running
/// multiply-accumulate count stays within [`MAX_MACS`] (both before any array is scanned).
fn limits(
    f: &Fields,
    li: u16,
    input: Shape,
    output: Shape,
    macs: &mut u64,
) -> Result<(), FormatError> {
    let out_len = output
        .checked_len()
        .ok_or(FormatError::BadShape { layer: li })?;
    if out_len == 0 {
        return Err(FormatError::BadShape { layer: li });
    }
    let too_large = |limit: Limit, value: u64, max: u64| FormatError::TooLarge {
        layer: li,
        limit,
        value,
        max,
    };
    if out_len > MAX_ACTIVATION_BYTES {
        let max = MAX_ACTIVATION_BYTES as u64;
        return Err(too_large(Limit::ActivationBytes, out_len as u64, max));
    }
    // this layer's multiply-accumulates: conv `(h-k+1)(w-k+1) k^2 cin cout` (before the pool),
    // dense `n_in n_out`, P the entry count (an upper bound of its shift-adds)
    let layer_macs = match f.kind {
        KIND_CONV => {
            let k = usize::from(f.param);
            let (ch, cw) = (conv_out(input.h, k), conv_out(input.w, k));
            let px = (ch as u64).saturating_mul(cw as u64);
            px.saturating_mul((k * k) as u64)
                .saturating_mul(f.n_in as u64)
                .saturating_mul(f.n_out as u64)
        }
        KIND_DENSE => (f.n_in as u64).saturating_mul(f.n_out as u64),
        _ => f.w_len as u64,
    };
    *macs = macs.saturating_add(layer_macs);
    if *macs > MAX_MACS {
        return Err(too_large(Limit::Macs, *macs, MAX_MACS));
    }
    Ok(())
}

/// Section 4: the weight length matches the shapes, then each array lies 4-aligned inside
/// the data area; a final layer has no requantisation arrays and an NP layer no row lengths
/// (their offsets must be 0).
fn arrays(
    blob: &[u8],
    at: &Place,
    f: &Fields,
    w_expected: Option<usize>,
) -> Result<Arrays, FormatError> {
    let Place { r, li, data, .. } = *at;
    let n_out = f.n_out;
    let w_expected = w_expected.ok_or(FormatError::BadShape { layer: li })?;
    if f.w_len != w_expected {
        return Err(mismatch(li, w_expected, f.w_len));
    }
    let w = array_at(blob, r + 12, li, Array::Weights, Some(f.w_len), data)?;
    let bias = array_at(blob, r + 20, li, Array::Bias, n_out.checked_mul(4), data)?;
    let (m, shift) = if f.is_final {
        for (at, field) in [(r + 24, "m_off"), (r + 28, "shift_off")] {
            let v = rd_u32(blob, at)?;
            if v != 0 {
                return Err(bad(li, field, v));
            }
        }
        ((0, 0), (0, 0))
    } else {
        (
            array_at(
                blob,
                r + 24,
                li,
                Array::Multiplier,
                n_out.checked_mul(2),
                data,
            )?,
            array_at(blob, r + 28, li, Array::Shift, Some(n_out), data)?,
        )
    };
    let row_len = if f.kind == KIND_DENSE_P {
        array_at(blob, r + 32, li, Array::RowLen, n_out.checked_mul(2), data)?
    } else {
        let v = rd_u32(blob, r + 32)?;
        if v != 0 {
            return Err(bad(li, "rowlen_off", v));
        }
        (0, 0)
    };
    Ok(Arrays {
        w,
        bias,
        m,
        shift,
        row_len,
    })
}

/// Checks one array `(offset, len)` of layer `layer` and returns it.
fn array_at(
    blob: &[u8],
    at: usize,
    layer: u16,
    array: Array,
    len: Option<usize>,
    data: (usize, usize),
) -> Result<(usize, usize), FormatError> {
    let off = rd_u32(blob, at)? as usize;
    let err = |len: usize| FormatError::BadOffset {
        layer,
        array,
        offset: off as u32,
        len: u32::try_from(len).unwrap_or(u32::MAX),
    };
    let len = len.ok_or(err(usize::MAX))?;
    if off & 3 != 0 || off < data.0 || off.checked_add(len).is_none_or(|end| end > data.1) {
        return Err(err(len));
    }
    Ok((off, len))
}

/// Section 5a: every requantisation `(m, shift)` is in range.
fn check_requant(li: u16, rq: RequantParams<'_>) -> Result<(), FormatError> {
    for (c, q) in rq.iter().enumerate() {
        if !q.is_valid() {
            return Err(FormatError::BadRequant {
                layer: li,
                channel: c as u32,
                m: q.m,
                shift: q.shift,
            });
        }
    }
    Ok(())
}

/// The accumulator bound of output `c`: `|bias| + 255 * sum|w| < 2^31` (`abs_sum` saturates,
/// so huge sums fail too).
fn acc_ok(li: u16, c: usize, bias: i32, abs_sum: u64) -> Result<(), FormatError> {
    let bound = u64::from(bias.unsigned_abs()).saturating_add(abs_sum.saturating_mul(255));
    if bound < 1 << 31 {
        Ok(())
    } else {
        Err(FormatError::AccumulatorOverflow {
            layer: li,
            channel: c as u32,
        })
    }
}

/// Section 5b, P layers: the row lengths add up to the entry count, every entry is a canonical
/// code, no row's cursor passes the input, and each output meets the accumulator bound.
fn check_p_rows(
    li: u16,
    f: &Fields,
    entries: &[u8],
    rows: U16s<'_>,
    biases: I32s<'_>,
) -> Result<(), FormatError> {
    let (n_in, bits) = (f.n_in, f.param);
    let total: usize = rows.iter().map(usize::from).sum();
    if total != entries.len() {
        return Err(mismatch(li, total, entries.len()));
    }
    let mut e = 0usize;
    for (o, (len, b)) in rows.iter().zip(biases.iter()).enumerate() {
        let mut cursor = 0usize;
        let mut abs_sum = 0u64;
        for &byte in &entries[e..e + usize::from(len)] {
            let c = PCode::decode(byte, bits);
            if !c.is_valid() {
                return Err(FormatError::BadPCode {
                    layer: li,
                    entry: e as u32,
                    byte,
                });
            }
            cursor += usize::from(c.skip);
            if c.magnitude != 0 {
                if cursor >= n_in {
                    return Err(FormatError::PRowOverrun {
                        layer: li,
                        row: o as u32,
                    });
                }
                // magnitude - 1 <= max_shift(7) = 62, so this cannot overflow u64
                abs_sum = abs_sum.saturating_add(1u64 << (c.magnitude - 1));
            }
            cursor += 1;
            e += 1;
        }
        if cursor > n_in {
            return Err(FormatError::PRowOverrun {
                layer: li,
                row: o as u32,
            });
        }
        acc_ok(li, o, b, abs_sum)?;
    }
    Ok(())
}

/// Section 5b, NP layers: no weight is `-128`, and each output (a row of `per_out` weights)
/// meets the accumulator bound.
fn check_np_rows(
    li: u16,
    weights: &[u8],
    per_out: usize,
    biases: I32s<'_>,
) -> Result<(), FormatError> {
    if let Some(i) = weights.iter().position(|&x| x == 0x80) {
        return Err(FormatError::WeightOutOfRange {
            layer: li,
            index: i as u32,
        });
    }
    // w_len == n_out * per_out (checked in `arrays`): row o is weights[o * per_out..][..per_out]
    let mut rows = weights;
    for (o, b) in biases.iter().enumerate() {
        let (row, rest) = rows.split_at(per_out.min(rows.len()));
        rows = rest;
        let abs_sum: u64 = row
            .iter()
            .map(|&x| u64::from((x as i8).unsigned_abs()))
            .sum();
        acc_ok(li, o, b, abs_sum)?;
    }
    Ok(())
}
