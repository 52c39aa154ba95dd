//! Optimised software kernels: the same bits as [`crate::numerics`], fast on PicoRV32.
//!
//! The speed comes from layout and register blocking. In HWC layout one kernel row of a
//! convolution window (`k * cin` values) is contiguous in the input, and the matching weight
//! row `[co][ky][..][..]` is contiguous too. The convolution computes a 2x2 block of windows
//! for two output channels at once ([`conv2d`]): each input byte loaded feeds two MACs and each
//! weight four, the eight accumulators stay in registers, rows are walked with immediate
//! offsets (no per-byte pointer bumps, no bounds checks) and a 9-byte row (3x3 over RGB) is
//! unrolled. The dense layer shares each input byte between five rows ([`dense`]).
//! Requantisation avoids 64-bit shifts (the SoC's CPU shifts one bit per cycle): convolution
//! outputs use per-channel constants with one 32-bit multiply (`FastRq`), dense rows `requant`.
//! Measured on the Verilated SoC (`cargo bench -p sim --bench kernels`, docs/performance.md),
//! PicoRV32 with its fast multiplier: conv 16.6-18.1 cycles/MAC, dense ~20.
//!
//! Argument lengths are checked once per call, so kernels never panic on inconsistent
//! arguments; the unchecked accesses inside rely on those checks (SAFETY comments).
//! The firmware has no division (`div`/`rem`): the SoC's CPU is built without a divider. The
//! board's CPU has no multiplier either (SERV; PicoRV32 with `BOARD_CPU_MUL` = 0): the firmware
//! is built for `riscv32i`, where the convolution and dense loops stay rolled (`SOFT_MUL`) and
//! take each `u8 x i8` product from a quarter-square table (`mul_u8_i8`: two table reads
//! instead of a [`crate::softmul`] call), skipping zero inputs; other products (requantisation)
//! call [`crate::softmul`].
//!
//! Deviations from the reference that are exact by construction:
//! - accumulation order: `bias + sum of products` in row/step order; i32 wrapping addition is
//!   associative, so any order gives the same bits (and the reader proves no wrap occurs);
//! - pooling requantises the maximum accumulator once instead of taking the maximum of four
//!   requantised values: equal because requantisation is non-decreasing (`m >= 0`);
//! - a convolution block at an odd edge (no pooling) or an odd last channel recomputes a
//!   window and writes the same value twice.

use crate::args::{ArgsError, ConvArgs, DenseArgs, DenseOut, DensePArgs};
use crate::model::{I32s, Shape};
#[cfg(doc)]
use crate::numerics::requantize;
use crate::numerics::{conv_out, Requant};

/// `sum(a[i] * w[i])` over the common length, unrolled by four, wrapping (a plain dot product;
/// the kernels below no longer use it).
#[inline(always)]
pub fn dot(a: &[u8], w: &[i8]) -> i32 {
    let mut ca = a.chunks_exact(4);
    let mut cw = w.chunks_exact(4);
    let mut s = 0i32;
    for (x, y) in (&mut ca).zip(&mut cw) {
        // four products of at most 255 * 128 each: the partial sum cannot overflow
        let p = i32::from(x[0]) * i32::from(y[0])
            + i32::from(x[1]) * i32::from(y[1])
            + i32::from(x[2]) * i32::from(y[2])
            + i32::from(x[3]) * i32::from(y[3]);
        s = s.wrapping_add(p);
    }
    for (&x, &y) in ca.remainder().iter().zip(cw.remainder()) {
        s = s.wrapping_add(i32::from(x) * i32::from(y));
    }
    s
}

fn need(what: &'static str, expected: Option<usize>, got: usize) -> Result<(), ArgsError> {
    match expected {
        Some(e) if e == got => Ok(()),
        Some(e) => Err(ArgsError::Len {
            what,
            expected: e,
            got,
        }),
        None => Err(ArgsError::Len {
            what,
            expected: usize::MAX,
            got,
        }),
    }
}

mod dense_as_p;
mod pindex;
pub use dense_as_p::{dense_as_p_bound, dense_via_p, naf, DenseAsP, DENSE_AS_P_MAX_DIGITS};
pub use pindex::{PIndex, PINDEX_MAX_N_IN};

/// True when every `*` is a call: the firmware for the board's CPU, which has no multiplier,
/// is built for `riscv32i`, and LLVM calls `__mulsi3` ([`crate::softmul`]) for each product.
/// The kernels then keep their loops rolled (`block4x2`, `dense_rows5`), take the `u8 x i8`
/// products from the quarter-square table ([`mul_u8_i8`]) and skip zero inputs: unrolled
/// copies would only cost code (the FW area would overflow). The unit tests run both loop
/// shapes on the host.
const SOFT_MUL: bool = cfg!(all(target_arch = "riscv32", not(target_feature = "m")));

/// `floor(n^2 / 4)` at index `n + 128`, for `n` in `-128..=383`: the quarter-square table of
/// [`mul_u8_i8`] (1 KB; offset so that no absolute value is needed).
static QSQ: [u16; 512] = {
    let mut t = [0u16; 512];
    let mut i = 0;
    while i < 512 {
        let n = i as i32 - 128;
        t[i] = (n * n / 4) as u16;
        i += 1;
    }
    t
};

/// `x * y` for an activation `x` and an `i8` weight `y`, without a multiply:
/// `x * y = floor((x + y)^2 / 4) - floor((x - y)^2 / 4)`, exact because `x + y` and `x - y`
/// differ by `2y` (same parity, so both squares leave the same remainder mod 4). Two table
/// reads and a few adds instead of a `__mulsi3` call of up to eight shift-add steps: the
/// rolled (`SOFT_MUL`) loops' product. A unit test checks all 65,536 pairs.
#[inline(always)]
fn mul_u8_i8(x: u8, y: i8) -> i32 {
    let (x, y) = (i32::from(x), i32::from(y));
    // SAFETY: x in 0..=255 and y in -128..=127 (their types), so x + y + 128 is in 0..=510
    // and x - y + 128 in 1..=511: both inside the 512-entry table.
    unsafe {
        i32::from(*QSQ.get_unchecked((x + y + 128) as usize))
            - i32::from(*QSQ.get_unchecked((x - y + 128) as usize))
    }
}

/// `x * y` as the loops of shape `ROLLED` compute it: a multiply, or with `ROLLED`
/// ([`SOFT_MUL`]) the quarter-square product [`mul_u8_i8`].
#[inline(always)]
fn mac_prod<const ROLLED: bool>(x: u8, y: i8) -> i32 {
    if ROLLED {
        mul_u8_i8(x, y)
    } else {
        i32::from(x) * i32::from(y)
    }
}

/// [`requantize`] computed without 64-bit shifts, equal to it for every input (unit tests and
/// proptest): PicoRV32 as the SoC builds it shifts one bit per cycle, so the reference's 64-bit
/// variable shifts and sign extractions cost ~300 cycles. With `A = acc * m` (`acc > 0`, else
/// the result is 0 as in [`FastRq`]) and `t = s - 1`, the reference `floor((A + 2^t) / 2^s)`
/// equals `(floor(A / 2^t) + 1) >> 1`; `floor(A / 2^t)` comes from the two words of the
/// product, and once it reaches 510 the result saturates at 255.
#[inline]
fn requant(acc: i32, rq: Requant) -> u8 {
    if acc <= 0 {
        return 0;
    }
    let t = u32::from(rq.shift).clamp(1, 47) - 1;
    let p = u64::from(acc as u32) * u64::from(rq.m);
    let (lo, hi) = (p as u32, (p >> 32) as u32);
    let q = if t >= 32 {
        hi >> (t - 32)
    } else if hi >> t != 0 {
        return 255; // A / 2^t >= 2^32
    } else if t == 0 {
        lo
    } else {
        (lo >> t) | (hi << (32 - t))
    };
    if q >= 510 {
        255
    } else {
        ((q + 1) >> 1) as u8
    }
}

/// [`requantize`] for one channel with its saturation point precomputed: `apply(acc)` equals
/// `requantize(acc, rq)` for every `acc` (unit tests: exhaustively around the thresholds, and
/// proptest), with one 32-bit multiply instead of a 64-bit multiply and a 64-bit variable
/// shift. With `A = acc * m` and shift `s`, the reference is `floor((A + 2^(s-1)) / 2^s)`
/// clamped to `[0, 255]`:
/// - `acc <= 0`: 0 (`A <= 0`, so `A + 2^(s-1) < 2^s` and the quotient is `<= 0`);
/// - `acc >= sat`, the smallest accumulator that gives 255 (requantisation is monotonic): 255;
/// - otherwise the result is at most 254, so `A + 2^(s-1) < 255 * 2^s`:
///   - `s <= 23`: that fits 31 bits, `(acc * m + 2^(s-1)) >> s` in `u32`;
///   - `24 <= s <= 33`: `mulhu(acc, m << (33 - s)) = floor(A / 2^(s-1))` (the shifted multiplier
///     fits 32 bits), and `floor((A + 2^(s-1)) / 2^s) = (floor(A / 2^(s-1)) + 1) >> 1`;
///   - `s >= 34`: `mulhu(acc, m) = floor(A / 2^32)`, and since `2^32` divides `2^(s-1)`,
///     the result is `(floor(A / 2^32) + 2^(s-33)) >> (s - 32)`.
#[derive(Clone, Copy, Debug)]
struct FastRq {
    /// Smallest `acc` that requantises to 255, as `u32`; `2^31` if no `i32` does.
    sat: u32,
    /// The multiplier of the product (`m`, or `m << (33 - s)`).
    mult: u32,
    /// Added to the product (or its high word) before the shift.
    add: u32,
    /// The final right shift.
    shift: u32,
    /// Multiply high (`mulhu`) instead of low.
    high: bool,
}

impl FastRq {
    /// Precomputes the constants; the saturation point by bisection over [`requant`] (31 steps;
    /// no division: the soft-core has no divider). Requires `rq.is_valid()`.
    fn new(rq: Requant) -> Self {
        let (mut lo, mut hi) = (0u32, 1u32 << 31); // requantize(lo) < 255 <= requantize(hi)
        while hi - lo > 1 {
            let mid = lo + ((hi - lo) >> 1);
            if requant(mid as i32, rq) == 255 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let (m, s) = (u32::from(rq.m), u32::from(rq.shift).clamp(1, 47));
        let (mult, add, shift, high) = match s {
            1..=23 => (m, 1 << (s - 1), s, false),
            24..=33 => (m << (33 - s), 1, 1, true),
            _ => (m, 1 << (s - 33), s - 32, true),
        };
        FastRq {
            sat: hi,
            mult,
            add,
            shift,
            high,
        }
    }

    // with SOFT_MUL its multiplies are calls: one copy instead of sixteen saves ~1 KB of the
    // FW area (the cost, a call per output, is small beside the products)
    #[cfg_attr(
        not(all(target_arch = "riscv32", not(target_feature = "m"))),
        inline(always)
    )]
    #[cfg_attr(all(target_arch = "riscv32", not(target_feature = "m")), inline(never))]
    fn apply(self, acc: i32) -> u8 {
        if acc <= 0 {
            0
        } else if acc as u32 >= self.sat {
            255
        } else {
            let a = acc as u32;
            let p = if self.high {
                ((u64::from(a) * u64::from(self.mult)) >> 32) as u32
            } else {
                a * self.mult
            };
            ((p + self.add) >> self.shift) as u8
        }
    }
}

/// Accumulators of four convolution windows for two output channels: `s[2 * p + c]` =
/// `bias[c] + sum over the window of pixel p` of input times channel `c`'s weights.
///
/// `a[p]` is the first input byte of pixel `p`'s window, `w[c]` the first weight of channel
/// `c`; a window is `k` rows of `row = k * cin` contiguous bytes, `stride` bytes apart in the
/// input (`skip = stride - row`), and its weights are `k * row` contiguous bytes. Every input
/// byte loaded feeds two MACs and every weight four: 6 loads per 8 MACs instead of 16, and the
/// eight accumulators stay in registers. A row is walked four bytes per loop iteration with
/// immediate offsets, then the last `row % 4`; a row of 9 bytes (3x3 kernels over RGB input,
/// the usual first layer) is unrolled completely. `ROLLED` ([`SOFT_MUL`]) walks every row one
/// byte per iteration instead: where each product is a call the unrolled copies only cost
/// code (3.5 KB of it: the FW area would overflow).
///
/// # Safety
/// For each `p`, `a[p] + ky * stride + r` must be readable for `ky < k`, `r < row`; for each
/// `c`, `w[c] + i` for `i < k * row`.
#[inline(always)]
unsafe fn block4x2<const ROLLED: bool>(
    a: [*const u8; 4],
    w: [*const i8; 2],
    bias: [i32; 2],
    k: usize,
    row: usize,
    skip: usize,
) -> [i32; 8] {
    let [mut a0, mut a1, mut a2, mut a3] = a;
    let [mut w0, mut w1] = w;
    let [b0, b1] = bias;
    let (mut s0, mut s1, mut s2, mut s3) = (b0, b1, b0, b1);
    let (mut s4, mut s5, mut s6, mut s7) = (b0, b1, b0, b1);

    // One step at byte offset `o`: the four pixels' input bytes times the two channels'
    // weights. Each product is at most 255 * 128 in magnitude; sums wrap like the reference.
    macro_rules! step {
        ($($o:expr),*) => {$({
            // SAFETY: offsets stay inside the current row (see the loops), whose addresses the
            // caller guarantees.
            let (y0, y1) = unsafe { (*w0.add($o), *w1.add($o)) };
            // rolled (products from the table), a zero input (ReLU) adds nothing: skip its two
            let x = unsafe { *a0.add($o) };
            if !ROLLED || x != 0 {
                s0 = s0.wrapping_add(mac_prod::<ROLLED>(x, y0));
                s1 = s1.wrapping_add(mac_prod::<ROLLED>(x, y1));
            }
            let x = unsafe { *a1.add($o) };
            if !ROLLED || x != 0 {
                s2 = s2.wrapping_add(mac_prod::<ROLLED>(x, y0));
                s3 = s3.wrapping_add(mac_prod::<ROLLED>(x, y1));
            }
            let x = unsafe { *a2.add($o) };
            if !ROLLED || x != 0 {
                s4 = s4.wrapping_add(mac_prod::<ROLLED>(x, y0));
                s5 = s5.wrapping_add(mac_prod::<ROLLED>(x, y1));
            }
            let x = unsafe { *a3.add($o) };
            if !ROLLED || x != 0 {
                s6 = s6.wrapping_add(mac_prod::<ROLLED>(x, y0));
                s7 = s7.wrapping_add(mac_prod::<ROLLED>(x, y1));
            }
            pin!(s0, s1, s2, s3, s4, s5, s6, s7);
        })*};
    }
    macro_rules! bump {
        ($a:expr, $w:expr) => {
            a0 = a0.wrapping_add($a);
            a1 = a1.wrapping_add($a);
            a2 = a2.wrapping_add($a);
            a3 = a3.wrapping_add($a);
            w0 = w0.wrapping_add($w);
            w1 = w1.wrapping_add($w);
        };
    }

    let w_end = w0.wrapping_add(k * row);
    if ROLLED {
        while w0 != w_end {
            let end = w0.wrapping_add(row);
            while w0 != end {
                step!(0);
                bump!(1, 1);
            }
            bump!(skip, 0);
        }
    } else if row == 9 {
        while w0 != w_end {
            step!(0, 1, 2, 3, 4, 5, 6, 7, 8);
            bump!(9 + skip, 9);
        }
    } else {
        let (row4, tail) = (row & !3, row & 3);
        while w0 != w_end {
            let end4 = w0.wrapping_add(row4);
            while w0 != end4 {
                step!(0, 1, 2, 3);
                bump!(4, 4);
            }
            // the last `tail` (< 4) bytes of the row, with immediate offsets too
            if tail != 0 {
                step!(0);
                if tail != 1 {
                    step!(1);
                    if tail != 2 {
                        step!(2);
                    }
                }
            }
            // the weights of the next row follow directly; the input's are `stride` bytes on
            bump!(tail + skip, tail);
        }
    }
    [s0, s1, s2, s3, s4, s5, s6, s7]
}

/// Convolution with requantisation and optional fused pool; see
/// [`crate::numerics::conv2d`] for the definition and layouts.
///
/// Output channels are taken two at a time, output pixels as 2x2 blocks of convolution
/// windows (`block4x2`): with pooling the block is exactly one pooled output (its maximum
/// accumulator is requantised once); without, odd edges repeat the last row/column and an odd
/// channel count the last channel, which recomputes (and rewrites) identical values.
pub fn conv2d(a: &ConvArgs<'_>, out: &mut [u8]) -> Result<(), ArgsError> {
    let s = a.in_shape;
    let os = a.out_shape().ok_or(ArgsError::Shape)?;
    if a.cout == 0 || s.c == 0 {
        return Err(ArgsError::Shape);
    }
    need("input", s.checked_len(), a.input.len())?;
    let row = a.k.checked_mul(s.c);
    let win = row.and_then(|r| r.checked_mul(a.k));
    need(
        "weights",
        win.and_then(|w| w.checked_mul(a.cout)),
        a.weights.len(),
    )?;
    need("bias", Some(a.cout), a.bias.len())?;
    need("m", Some(a.cout), a.rq.m.len())?;
    need("shift", Some(a.cout), a.rq.shift.len())?;
    need("output", os.checked_len(), out.len())?;
    conv_blocks::<SOFT_MUL>(a, os, out);
    Ok(())
}

/// The loops of [`conv2d`] over channel pairs and 2x2 pixel blocks, after its argument checks
/// (which every index below relies on).
#[inline(always)]
fn conv_blocks<const ROLLED: bool>(a: &ConvArgs<'_>, os: Shape, out: &mut [u8]) {
    let s = a.in_shape;
    let (k, cin, cout) = (a.k, s.c, a.cout);
    let (row, win, stride) = (k * cin, k * k * cin, s.w * cin);
    let skip = stride - row;
    // convolution output before pooling (k <= h, w: checked by out_shape)
    let (ch, cw) = (conv_out(s.h, k), conv_out(s.w, k));
    // block origins (y, x) run over [0, ny) x [0, nx) in steps of 2; with pooling these are
    // the pooled outputs' windows (floor: 2 * os.h <= ch)
    let (ny, nx) = if a.pool {
        (2 * os.h, 2 * os.w)
    } else {
        (ch, cw)
    };
    let (inp, wts, dst) = (a.input.as_ptr(), a.weights.as_ptr(), out.as_mut_ptr());

    let mut c0 = 0;
    while c0 < cout {
        let c1 = if c0 + 1 < cout { c0 + 1 } else { c0 };
        let w = [wts.wrapping_add(c0 * win), wts.wrapping_add(c1 * win)];
        let bias = [
            a.bias.get(c0).unwrap_or_default(),
            a.bias.get(c1).unwrap_or_default(),
        ];
        let none = Requant { m: 0, shift: 1 }; // unreachable: lengths were checked
        let q0 = FastRq::new(a.rq.get(c0).unwrap_or(none));
        let q1 = FastRq::new(a.rq.get(c1).unwrap_or(none));
        let mut y = 0;
        let mut o = dst.wrapping_add(c0); // pooled output pixel (y/2, x/2), channel c0
        while y < ny {
            // the block's second row and column repeat the first at an odd edge (no pool)
            let dy = if y + 1 < ch { stride } else { 0 };
            let mut p = inp.wrapping_add(y * stride); // window (y, x)
            let mut x = 0;
            while x < nx {
                let dx = if x + 1 < cw { cin } else { 0 };
                let px = [
                    p,
                    p.wrapping_add(dx),
                    p.wrapping_add(dy),
                    p.wrapping_add(dy + dx),
                ];
                // SAFETY: the four windows' origins (y or y + dy/stride, x or x + dx/cin) are
                // below (ch, cw), so all bytes block4x2 reads are below h * w * cin =
                // input.len(); the weights of channels c0, c1 < cout lie inside weights (len
                // cout * win, checked).
                let v = unsafe { block4x2::<ROLLED>(px, w, bias, k, row, skip) };
                if a.pool {
                    let m0 = v[0].max(v[2]).max(v[4].max(v[6]));
                    let m1 = v[1].max(v[3]).max(v[5].max(v[7]));
                    // SAFETY: `o` walks the pooled outputs (y/2 * os.w + x/2) * cout + c0
                    // in order, below os.len() = out.len(); c1 < cout likewise.
                    unsafe {
                        *o.wrapping_add(c1 - c0) = q1.apply(m1);
                        *o = q0.apply(m0);
                    }
                    o = o.wrapping_add(cout);
                } else {
                    // pixel (y, x) and the block's other three (repeats at odd edges)
                    let o = dst.wrapping_add((y * cw + x) * cout + c0);
                    let (ox, oy) = (
                        if dx != 0 { cout } else { 0 },
                        if dy != 0 { cw * cout } else { 0 },
                    );
                    let d = c1 - c0;
                    // SAFETY: the four pixels are below (ch, cw) = (os.h, os.w) and
                    // c0 <= c1 < cout, so every index is below os.len() = out.len().
                    unsafe {
                        *o.wrapping_add(d) = q1.apply(v[1]);
                        *o = q0.apply(v[0]);
                        *o.wrapping_add(ox + d) = q1.apply(v[3]);
                        *o.wrapping_add(ox) = q0.apply(v[2]);
                        *o.wrapping_add(oy + d) = q1.apply(v[5]);
                        *o.wrapping_add(oy) = q0.apply(v[4]);
                        *o.wrapping_add(oy + ox + d) = q1.apply(v[7]);
                        *o.wrapping_add(oy + ox) = q0.apply(v[6]);
                    }
                }
                p = p.wrapping_add(2 * cin);
                x += 2;
            }
            y += 2;
        }
        c0 += 2;
    }
}

/// `bias + acc(o)` for every output row `o` in order (each once), requantised or as logits.
/// `acc` has one call site, so the kernels' closures are inlined here (a call per row cost
/// the P layer ~17 k cycles on the board).
fn write_dense(
    bias: I32s<'_>,
    mut rq_out: DenseOut<'_>,
    n_out: usize,
    mut acc: impl FnMut(usize) -> Result<i32, ArgsError>,
) -> Result<(), ArgsError> {
    need("bias", Some(n_out), bias.len())?;
    let mut rqs = match &rq_out {
        DenseOut::Act { rq, out } => {
            need("m", Some(n_out), rq.m.len())?;
            need("shift", Some(n_out), rq.shift.len())?;
            need("output", Some(n_out), out.len())?;
            Some(rq.iter())
        }
        DenseOut::Logits(out) => {
            need("output", Some(n_out), out.len())?;
            None
        }
    };
    for (o, b) in bias.iter().enumerate() {
        let v = b.wrapping_add(acc(o)?);
        match (&mut rq_out, rqs.as_mut().and_then(|q| q.next())) {
            (DenseOut::Act { out, .. }, Some(q)) => {
                if let Some(y) = out.get_mut(o) {
                    *y = requant(v, q);
                }
            }
            (DenseOut::Logits(out), _) => {
                if let Some(y) = out.get_mut(o) {
                    *y = v;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn out_len(out: &DenseOut<'_>) -> usize {
    match out {
        DenseOut::Act { out, .. } => out.len(),
        DenseOut::Logits(out) => out.len(),
    }
}

/// Dense accumulators (without bias) of five weight rows: `out[j] = sum_i x[i] * rows[j][i]`
/// for `i < n`. The rows share each input byte loaded (one load per five MACs) and the five
/// accumulators stay in registers; the inputs are walked sixteen per loop iteration with
/// immediate offsets, then one by one. `ROLLED` ([`SOFT_MUL`]) walks them one by one and
/// skips zero inputs: there each product is a call, and the shipped head layer takes 31 k
/// cycles instead of 46 k without the skip (four inputs per iteration: 30 k, for 0.8 KB more
/// code). A block of fewer rows repeats its last row pointer.
///
/// # Safety
/// `x..x + n` and `rows[j]..rows[j] + n` must be readable.
#[inline(never)]
unsafe fn dense_rows5<const ROLLED: bool>(
    x: *const u8,
    n: usize,
    rows: [*const i8; 5],
    out: &mut [i32; 5],
) {
    let [mut p0, mut p1, mut p2, mut p3, mut p4] = rows;
    let (mut s0, mut s1, mut s2, mut s3, mut s4) = (0i32, 0i32, 0i32, 0i32, 0i32);
    let mut x = x;
    let end = x.wrapping_add(n);
    // one step at input offset `o`: one input byte times each row's weight
    macro_rules! step {
        ($($o:expr),*) => {$({
            // SAFETY: offset `o` is before `end16` or `end` by the loop conditions below,
            // and the rows are as long as the input.
            let a = unsafe { *x.add($o) };
            // a zero input (ReLU) adds nothing: where each product costs table reads, skip its five
            if !ROLLED || a != 0 {
                unsafe {
                    s0 = s0.wrapping_add(mac_prod::<ROLLED>(a, *p0.add($o)));
                    s1 = s1.wrapping_add(mac_prod::<ROLLED>(a, *p1.add($o)));
                    s2 = s2.wrapping_add(mac_prod::<ROLLED>(a, *p2.add($o)));
                    s3 = s3.wrapping_add(mac_prod::<ROLLED>(a, *p3.add($o)));
                    s4 = s4.wrapping_add(mac_prod::<ROLLED>(a, *p4.add($o)));
                }
                pin!(s0, s1, s2, s3, s4);
            }
        })*};
    }
    macro_rules! bump {
        ($d:expr) => {
            x = x.wrapping_add($d);
            p0 = p0.wrapping_add($d);
            p1 = p1.wrapping_add($d);
            p2 = p2.wrapping_add($d);
            p3 = p3.wrapping_add($d);
            p4 = p4.wrapping_add($d);
        };
    }
    if !ROLLED {
        let end16 = x.wrapping_add(n & !15);
        while x != end16 {
            step!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            bump!(16);
        }
    }
    while x != end {
        step!(0);
        bump!(1);
    }
    *out = [s0, s1, s2, s3, s4];
}

/// NP dense layer: `bias + W x`, then requantise or write raw logits. Rows are taken five at a
/// time (`dense_rows5`).
pub fn dense(a: &DenseArgs<'_>, out: DenseOut<'_>) -> Result<(), ArgsError> {
    let n_out = out_len(&out);
    let n_in = a.input.len();
    if n_in == 0 || n_out == 0 {
        return Err(ArgsError::Shape);
    }
    need("weights", n_in.checked_mul(n_out), a.weights.len())?;
    let (x, w) = (a.input.as_ptr(), a.weights.as_ptr());
    let mut block = [0i32; 5];
    let mut first = 0usize; // block holds rows first..first + 5 (fewer at the end)
    let mut next = 0usize; // first row not computed yet
    write_dense(a.bias, out, n_out, |o| {
        if o >= next {
            first = o;
            next = (o + 5).min(n_out);
            let last = next - 1;
            let row = |j: usize| w.wrapping_add((o + j).min(last) * n_in);
            // SAFETY: rows o..next <= n_out lie inside weights (n_out * n_in, checked) and
            // x..x + n_in is the input.
            unsafe {
                dense_rows5::<SOFT_MUL>(
                    x,
                    n_in,
                    [row(0), row(1), row(2), row(3), row(4)],
                    &mut block,
                )
            };
        }
        Ok(block.get(o - first).copied().unwrap_or_default())
    })
}

/// Decode table of one P layer's entry bytes for its code width (built once per call):
/// `t[e]` is the cursor advance `skip + 1` of entry byte `e`, `t[256 + e]` its weight code: 0
/// for a zero code (magnitude 0), else the shift `magnitude - 1` in the low five bits plus
/// [`P_POS`] for a positive or [`P_NEG`] for a negative weight. `wrapping_shl` (RISC-V `sll`)
/// uses only the low five bits, so the code is the shift amount as it is: the walk needs no
/// variable shift or mask of the entry byte, which cost one cycle per bit on this CPU, and the
/// sign is one unsigned compare (not bit 7: LLVM would test that with a 24-bit shift). Shifts
/// of 32 and more (7-bit codes only, rejected by the model reader) wrap as in
/// `i32::wrapping_shl`.
struct PTable([u8; 512]);

/// [`PTable`] code flag of a positive weight.
const P_POS: u8 = 0x20;
/// [`PTable`] code flag of a negative weight (codes `>= P_NEG` are negative).
const P_NEG: u8 = 0x40;

impl PTable {
    fn new(bits: u32) -> PTable {
        let mut t = [0u8; 512];
        let (mag_bits, codes) = (bits - 1, 1u32 << bits);
        let (mut adv, mut lo) = (1u8, 0u32); // entry e = (adv - 1) << bits | lo
        for e in 0..256 {
            let mag = lo & ((1 << mag_bits) - 1);
            t[e] = adv; // skip + 1 <= 2^(8 - bits) <= 64 (bits >= 2)
            if mag != 0 {
                let flag = if lo >> mag_bits != 0 { P_NEG } else { P_POS };
                t[256 + e] = flag | ((mag - 1) & 31) as u8;
            }
            lo += 1;
            if lo == codes {
                (adv, lo) = (adv + 1, 0);
            }
        }
        PTable(t)
    }
}

/// Accumulator of one P row (`row`: its entry bytes), or `None` when a non-zero entry's cursor
/// is past the input. `group` = 4 x the largest cursor advance: while `cursor + group <= n` the
/// next four entries cannot leave the input, so they are walked without bounds checks; the
/// rest of the row (the last `group` input positions, and `row.len() % 4` entries) one entry
/// at a time with the check.
#[inline(always)]
fn p_row(t: &PTable, row: &[u8], input: &[u8], group: usize) -> Option<i32> {
    let n = input.len();
    let tab = t.0.as_ptr();
    let mut acc = 0i32;
    // `q` = input + cursor (positions consumed); the fast walk runs while q <= limit
    let x = input.as_ptr();
    let mut q = x;
    // `limit` and `fast` say the same thing twice (limit is below the input when the walk is
    // not fast), but the pair compiles to the shorter loop on RV32IM: folding them into one
    // `if n >= group` costs 6,436 more cycles on the paper-shaped P layer (SoC transcripts)
    let limit = if n >= group {
        x.wrapping_add(n - group)
    } else {
        x.wrapping_sub(1)
    };
    let fast = n >= group;
    let mut e = row.as_ptr();
    let end4 = e.wrapping_add(row.len() & !3);
    // one entry at offset `k` from `e`, no bounds check
    macro_rules! step {
        ($($k:expr),*) => {$({
            // SAFETY: `e + k < end4` (loop condition) lies inside `row`; `tab + byte` and
            // `tab + 256 + byte` lie inside the 512-byte table. `q - 1` (after the advance)
            // is below the group's start + `group` <= input + n, and >= input since every
            // advance is >= 1.
            unsafe {
                let te = tab.add(usize::from(*e.add($k)));
                q = q.add(usize::from(*te));
                let code = *te.add(256);
                if code != 0 {
                    let v = i32::from(*q.sub(1)).wrapping_shl(u32::from(code));
                    acc = if code >= P_NEG { acc.wrapping_sub(v) } else { acc.wrapping_add(v) };
                }
            }
        })*};
    }
    if fast {
        while e != end4 && q <= limit {
            step!(0, 1, 2, 3);
            e = e.wrapping_add(4);
        }
    }
    // SAFETY: `e` and `q` moved forward from the starts of `row` and `input` (q by at most
    // the fast walk's bound, inside or at the end of the input).
    let (done, mut cursor) = unsafe {
        (
            e.offset_from(row.as_ptr()) as usize,
            q.offset_from(x) as usize,
        )
    };
    for &b in &row[done..] {
        cursor += usize::from(t.0[usize::from(b)]);
        let code = t.0[256 + usize::from(b)];
        if code != 0 {
            let v = i32::from(*input.get(cursor - 1)?).wrapping_shl(u32::from(code));
            acc = if code >= P_NEG {
                acc.wrapping_sub(v)
            } else {
                acc.wrapping_add(v)
            };
        }
    }
    Some(acc)
}

/// P dense layer: shift-and-add over the entry bytes; see [`crate::numerics::dense_p_acc`].
/// Entries are decoded through a per-call table (`PTable`) and walked four at a time
/// without bounds checks where they provably stay inside the input (`p_row`); a row whose
/// non-zero entry points past the input is [`ArgsError::PRow`], as is a row past the entries.
pub fn dense_p(a: &DensePArgs<'_>, out: DenseOut<'_>) -> Result<(), ArgsError> {
    dense_p_indexed(a, None, out)
}

/// [`dense_p`] with the rows that `index` covers summed from it instead of walked (when it was
/// built for these arguments; see [`PIndex`], which proves the two equal): the same results
/// and the same errors, with or without an index.
#[inline(never)]
pub fn dense_p_indexed(
    a: &DensePArgs<'_>,
    index: Option<&PIndex<'_>>,
    out: DenseOut<'_>,
) -> Result<(), ArgsError> {
    let n_out = out_len(&out);
    if !(crate::numerics::PBITS_MIN..=crate::numerics::PBITS_MAX).contains(&a.bits) {
        return Err(ArgsError::Shape);
    }
    need("row_len", Some(n_out), a.row_len.len())?;
    let bits = u32::from(a.bits);
    // rows 0..fast come from the index table (`t`: the next row record), the rest are walked
    // through the decode table, built only if a row needs it
    let (mut t, fast) = match index.and_then(|i| i.table_for(a).map(|w| (w, i.rows()))) {
        Some((words, rows)) => (words.as_ptr(), rows),
        None => (core::ptr::null(), 0),
    };
    let mut table: Option<PTable> = None;
    let group = 4 << (8 - bits); // 4 x the largest advance 2^(8 - bits)
    let x = a.input.as_ptr();
    let mut rest = a.entries;
    let mut lens = a.row_len.iter();
    write_dense(a.bias, out, n_out, |o| {
        let len = usize::from(lens.next().unwrap_or(0));
        let (row, r) = rest
            .split_at_checked(len)
            .ok_or(ArgsError::PRow { row: o })?;
        rest = r;
        if o < fast {
            // SAFETY: the index was built for these arguments (`table_for`): its first `fast`
            // rows are records for an input of `a.input.len()` bytes, and write_dense asks
            // for rows in order, once each, so `t` is at row `o`'s record.
            return Ok(unsafe { pindex::row_acc(&mut t, x) });
        }
        let table = table.get_or_insert_with(|| PTable::new(bits));
        p_row(table, row, a.input, group).ok_or(ArgsError::PRow { row: o })
    })
}

#[cfg(test)]
mod tests {
    use super::{conv_blocks, dense_rows5, mul_u8_i8, requant, FastRq};

    #[test]
    fn quarter_square_product_is_exact_for_every_pair() {
        for x in 0..=255u8 {
            for y in -128..=127i8 {
                assert_eq!(mul_u8_i8(x, y), i32::from(x) * i32::from(y), "{x} * {y}");
            }
        }
    }
    use crate::args::ConvArgs;
    use crate::model::{I32s, RequantParams, Shape, U16s};
    use crate::numerics::{self, requantize, Requant, MULT_MAX, SHIFT_MAX, SHIFT_MIN};
    use proptest::prelude::*;

    /// Both loop shapes of the convolution (unrolled for a CPU with a multiplier, rolled for
    /// the board's without one, `SOFT_MUL`) equal the reference; the host runs the unrolled
    /// one through `conv2d`, the board the rolled one (and the SoC tests compare it with the
    /// host, bit for bit).
    fn conv_both_shapes(
        h: usize,
        w: usize,
        cin: usize,
        k: usize,
        cout: usize,
        pool: bool,
        seed: u64,
    ) {
        let mut r = crate::rng::SplitMix64::new(seed);
        let input: Vec<u8> = (0..h * w * cin)
            .map(|_| (r.next_u64() as u32) as u8)
            .collect();
        let weights: Vec<i8> = (0..cout * k * k * cin)
            .map(|_| (r.next_u64() as u32) as i8)
            .collect();
        let bias: Vec<i32> = (0..cout)
            .map(|_| ((r.next_u64() as u32) % 20_001) as i32 - 10_000)
            .collect();
        let rq: Vec<Requant> = (0..cout)
            .map(|_| Requant {
                m: ((r.next_u64() as u32) % 30_000) as u16,
                shift: 12 + ((r.next_u64() as u32) % 10) as u8,
            })
            .collect();
        let bias_le: Vec<u8> = bias.iter().flat_map(|b| b.to_le_bytes()).collect();
        let m_le: Vec<u8> = rq.iter().flat_map(|q| q.m.to_le_bytes()).collect();
        let shifts: Vec<u8> = rq.iter().map(|q| q.shift).collect();
        let a = ConvArgs {
            input: &input,
            in_shape: Shape { h, w, c: cin },
            k,
            cout,
            pool,
            weights: &weights,
            bias: I32s::new(&bias_le),
            rq: RequantParams {
                m: U16s::new(&m_le),
                shift: &shifts,
            },
        };
        let os = a.out_shape().unwrap();
        let mut want = vec![0u8; os.h * os.w * cout];
        numerics::conv2d(
            &input, h, w, cin, &weights, &bias, &rq, k, cout, pool, &mut want,
        );
        let mut rolled = vec![0u8; want.len()];
        conv_blocks::<true>(&a, os, &mut rolled);
        let mut unrolled = vec![0u8; want.len()];
        conv_blocks::<false>(&a, os, &mut unrolled);
        assert_eq!(
            rolled, want,
            "rolled {h}x{w}x{cin} k{k} ->{cout} pool {pool}"
        );
        assert_eq!(
            unrolled, want,
            "unrolled {h}x{w}x{cin} k{k} ->{cout} pool {pool}"
        );
    }

    #[test]
    fn conv_loop_shapes_match_the_reference() {
        let mut seed = 1;
        // 9-byte rows (3x3 over RGB: the unrolled special case), row % 4 = 0..3, odd edges
        // and an odd channel count, with and without pooling
        for (h, w, cin, k, cout) in [
            (8, 8, 3, 3, 4),
            (7, 9, 3, 3, 5),
            (9, 7, 2, 2, 3),
            (10, 10, 4, 3, 2),
            (8, 9, 5, 5, 1),
            (6, 6, 1, 1, 3),
            (11, 8, 7, 3, 2),
        ] {
            for pool in [false, true] {
                conv_both_shapes(h, w, cin, k, cout, pool, seed);
                seed += 1;
            }
        }
    }

    #[test]
    fn dense_loop_shapes_match_the_reference() {
        let mut r = crate::rng::SplitMix64::new(5);
        for n in [1, 3, 4, 5, 15, 16, 17, 64, 100] {
            let x: Vec<u8> = (0..n).map(|_| (r.next_u64() as u32) as u8).collect();
            let rows: Vec<Vec<i8>> = (0..5)
                .map(|_| (0..n).map(|_| (r.next_u64() as u32) as i8).collect())
                .collect();
            let want: Vec<i32> = rows
                .iter()
                .map(|w| {
                    x.iter()
                        .zip(w)
                        .map(|(&a, &b)| i32::from(a) * i32::from(b))
                        .sum()
                })
                .collect();
            let ptrs = [0, 1, 2, 3, 4].map(|j| rows[j].as_ptr());
            let (mut rolled, mut unrolled) = ([0i32; 5], [0i32; 5]);
            // SAFETY: x and every row are n bytes long.
            unsafe {
                dense_rows5::<true>(x.as_ptr(), n, ptrs, &mut rolled);
                dense_rows5::<false>(x.as_ptr(), n, ptrs, &mut unrolled);
            }
            assert_eq!(rolled.to_vec(), want, "rolled n {n}");
            assert_eq!(unrolled.to_vec(), want, "unrolled n {n}");
        }
    }

    fn check(rq: Requant, acc: i32) {
        let want = requantize(acc, rq);
        assert_eq!(FastRq::new(rq).apply(acc), want, "FastRq {rq:?} acc {acc}");
        assert_eq!(requant(acc, rq), want, "requant {rq:?} acc {acc}");
    }

    #[test]
    fn fast_requant_is_exact_at_the_edges() {
        for shift in SHIFT_MIN..=SHIFT_MAX {
            for m in [
                0, 1, 2, 3, 5, 127, 128, 255, 256, 1000, 16_383, 16_384, 24_577, MULT_MAX,
            ] {
                let rq = Requant { m, shift };
                let f = FastRq::new(rq);
                let sat = f.sat as i64;
                let mut accs = vec![i32::MIN, -1, 0, 1, 2, 3, i32::MAX - 1, i32::MAX];
                accs.extend(
                    (0..31)
                        .flat_map(|b| [(1i64 << b) - 1, 1 << b, (1 << b) + 1])
                        .map(|v| v as i32),
                );
                accs.extend(
                    (sat - 3..=sat + 3)
                        .filter(|v| (0..=i64::from(i32::MAX)).contains(v))
                        .map(|v| v as i32),
                );
                // every result step below saturation: the accumulators where the output changes
                for y in 0..255u32 {
                    // smallest acc with output > y, by bisection on the reference
                    let (mut lo, mut hi) = (0i64, sat.min(i64::from(i32::MAX)));
                    if i64::from(requantize(hi as i32, rq)) <= i64::from(y) {
                        break;
                    }
                    while hi - lo > 1 {
                        let mid = (lo + hi) / 2;
                        if u32::from(requantize(mid as i32, rq)) > y {
                            hi = mid
                        } else {
                            lo = mid
                        }
                    }
                    accs.extend([lo as i32, hi as i32]);
                }
                for acc in accs {
                    check(rq, acc);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn fast_requant_is_exact(acc in any::<i32>(), m in 0u16..=MULT_MAX, shift in SHIFT_MIN..=SHIFT_MAX) {
            check(Requant { m, shift }, acc);
            // and near the range where outputs are not saturated
            check(Requant { m, shift }, acc >> (acc.unsigned_abs() % 31));
        }
    }
}
