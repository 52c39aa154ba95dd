//! [`DenseAsP`]: an NP dense layer rewritten as one P layer (a signed-digit decomposition of its
//! `i8` weights over `D` copies of its input), built once per model, so that the P engine
//! computes the layer bit for bit, requantisation or logits included.
//!
//! # The decomposition
//! Every `w` in `-128..=127` is the sum of its non-adjacent form's digits ([`naf`]): at most
//! four signed powers of two `±2^s`, `s <= 7` (`85 = 2^6 + 2^4 + 2^2 + 2^0`, `127 = 2^7 - 2^0`,
//! `-128 = -2^7`). A P row can use each input only once (an entry moves the cursor past it), so
//! the P layer reads `D` copies of the input back to back (`D` the largest digit count of the
//! layer, at least 1): `x'[r * n_in + i] = x[i]`, and row `o` holds, for every `r < D` and
//! input `i` whose weight `w[o][i]` has an `r`-th digit (counted from the least significant),
//! that digit as the entry of input `r * n_in + i`. Its bias and requantisation are the layer's
//! own. The code width is the smallest whose magnitudes hold the largest shift used (5 bits
//! once a weight needs `2^7`: `|w| >= 86` or `-128`). Per image only the copies are made
//! ([`DenseAsP::p_layer`]: `D * n_in` bytes).
//!
//! # Why it is exact
//! The P layer (engine, or the kernel [`crate::numerics::dense_p_acc`]) gives row `o` the
//! accumulator `bias[o] + Σ_r Σ_i digit_r(w[o][i]) · x[i]`, computed with wrapping `i32`
//! additions (and `i32` shifts, modulo `2^32`). Reordering and distributing in the ring of
//! integers modulo `2^32` (as for [`super::PIndex`]), that is
//! `bias[o] + Σ_i (Σ_r digit_r(w[o][i])) · x[i] = bias[o] + Σ_i w[o][i] · x[i]`: the NP dense
//! accumulator of [`crate::numerics::dense_acc`] bit for bit, which wraps modulo `2^32` too.
//! This holds in every summation order, even where partial sums leave `i32` (the digits of
//! `127 = 128 - 1` sum to 129 in magnitude) or the accumulator itself would (the model reader
//! rejects such models). The requantisation, or the raw logit, then applies to that same
//! accumulator, as the spec says.
//!
//! # Storage layout
//! In caller-provided bytes, from the first 4-aligned address (the copies are word copies): the
//! input copies (`D * n_in` bytes, and a byte to a 2-aligned address if that is odd), the row
//! lengths (`u16 [n_out]`), then the entries (at most `D * n_in` per row, one per input
//! position). [`DenseAsP::build`] hands the storage back when the table does not fit, so a
//! caller can run that layer in software instead.

use super::dense_p;
use crate::args::{ArgsError, DenseArgs, DenseOut, DensePArgs};
use crate::model::{Layer, LayerKind, U16s};
use crate::numerics::{encode_p_entries, PCode, PBITS_MAX, PBITS_MIN};

/// Most non-zero digits of an `i8` in non-adjacent form ([`naf`]): input copies at most.
pub const DENSE_AS_P_MAX_DIGITS: usize = 4;

/// Storage bytes that always hold the table of an `n_in -> n_out` layer (saturating): the row
/// lengths, [`DENSE_AS_P_MAX_DIGITS`] input copies, as many entries per row, and 4 bytes of
/// alignment.
pub const fn dense_as_p_bound(n_in: usize, n_out: usize) -> usize {
    let copies = n_in.saturating_mul(DENSE_AS_P_MAX_DIGITS);
    copies
        .saturating_mul(n_out.saturating_add(1))
        .saturating_add(n_out.saturating_mul(2))
        .saturating_add(4)
}

/// The non-adjacent form of `w`: the bit masks `(pos, neg)` of its `+1` and `-1` digits, so
/// `w = pos - neg` (as integers), `pos & neg == 0`, and no two set bits of `pos | neg` are
/// adjacent. For `w` in `-128..=127` at most [`DENSE_AS_P_MAX_DIGITS`] bits are set, all
/// below bit 8 (unit tests: every `i8`). Branch-free: with `h = w >> 1` (arithmetic) and
/// `c = h ^ (w + h)`, the digits are `pos = (w + h) & c` and `neg = h & c` (the bit-parallel
/// form of the NAF recurrence; `w + h` is `3w / 2` rounded down).
#[inline]
pub const fn naf(w: i32) -> (u32, u32) {
    let h = w >> 1;
    let h3 = w.wrapping_add(h);
    let c = h ^ h3;
    ((h3 & c) as u32, (h & c) as u32)
}

/// Digit `r` (counted from the least significant) of `w`'s non-adjacent form as the P code of
/// the weight `±2^s` (magnitude `s + 1`, skip 0), or magnitude 0 when `w` has no digit `r`. A
/// bit loop: no count-trailing-zeros, which costs a multiply call on the soft-core.
fn digit(w: i8, r: usize) -> PCode {
    let (pos, neg) = naf(w.into());
    let (mut m, mut left, mut magnitude) = (pos | neg, r, 0u8);
    let mut negative = false;
    while m != 0 {
        magnitude += 1;
        if m & 1 != 0 {
            if left == 0 {
                negative = (neg >> (magnitude - 1)) & 1 != 0;
                break;
            }
            left -= 1;
        }
        m >>= 1;
    }
    if m == 0 {
        magnitude = 0;
    }
    PCode {
        skip: 0,
        negative,
        magnitude,
    }
}

/// An NP dense layer as one P layer over `D` copies of its input (module docs), in
/// caller-provided storage. Built for one weight array ([`DenseAsP::built_for`]); run the P
/// layer from [`DenseAsP::p_layer`] into the layer's output ([`dense_via_p`] does this with
/// the software P kernel).
#[derive(Debug)]
pub struct DenseAsP<'a> {
    weights: &'a [i8],
    n_in: usize,
    digits: usize,
    bits: u8,
    row_len: &'a [u8],
    copies: &'a mut [u8],
    entries: &'a [u8],
}

impl<'a> DenseAsP<'a> {
    /// Builds the table of the `n_in -> n_out` layer with `weights` (`[n_out][n_in]`) at the
    /// start of `store` and returns it with the rest of `store`. Hands `store` back (with
    /// unspecified contents) when the table does not fit it, when a length is 0 or
    /// `weights.len() != n_in * n_out`, or beyond the P engine's 16-bit registers: more than
    /// `u16::MAX` outputs, or copies of more than `u16::MAX` bytes (row lengths are `u16` too).
    pub fn build(
        weights: &'a [i8],
        n_in: usize,
        n_out: usize,
        store: &'a mut [u8],
    ) -> Result<(Self, &'a mut [u8]), &'a mut [u8]> {
        let Some((digits, bits)) = shape(weights, n_in, n_out) else {
            return Err(store);
        };
        // the copies from a 4-aligned address (word copies), the row lengths 2-aligned after
        // them (the engine reads u16s), then the entries
        let pad = (4 - store.as_ptr() as usize % 4) % 4;
        let copies = digits * n_in;
        let lens_at = pad + copies + (copies & 1);
        let head = lens_at + 2 * n_out;
        let parts = store
            .get_mut(lens_at..)
            .and_then(|s| s.split_at_mut_checked(2 * n_out));
        let Some(used) =
            parts.and_then(|(lens, tail)| write(weights, n_in, digits, bits, lens, tail))
        else {
            return Err(store);
        };
        let (table, rest) = store.split_at_mut(head + used);
        let (copies, table) = table[pad..].split_at_mut(copies);
        let (row_len, entries) = table[lens_at - pad - copies.len()..].split_at(2 * n_out);
        let t = DenseAsP {
            weights,
            n_in,
            digits,
            bits,
            row_len,
            copies,
            entries,
        };
        Ok((t, rest))
    }

    /// [`DenseAsP::build`] for `layer`; hands `store` back unless it is an NP dense layer
    /// whose table fits.
    pub fn for_layer(
        layer: &Layer<'a>,
        store: &'a mut [u8],
    ) -> Result<(Self, &'a mut [u8]), &'a mut [u8]> {
        match layer.kind {
            LayerKind::Dense { n_in, n_out } => Self::build(layer.weights, n_in, n_out, store),
            _ => Err(store),
        }
    }

    /// Input copies (`D`, the largest digit count of a weight, at least 1).
    pub fn digits(&self) -> usize {
        self.digits
    }

    /// The P layer's code width.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Storage bytes the table takes (without the alignment bytes).
    pub fn bytes(&self) -> usize {
        self.row_len.len() + self.copies.len() + self.entries.len()
    }

    /// Whether this is the table of `a`'s layer: the same weight slice (address and length,
    /// borrowed for `'a`, so the same bytes) and input length.
    pub fn built_for(&self, a: &DenseArgs<'_>) -> bool {
        core::ptr::eq(self.weights, a.weights) && a.input.len() == self.n_in
    }

    /// Copies `input` (`n_in` bytes: the layer's input; other lengths fill the copies only
    /// partly) `D` times into the table: all the per-image work of [`DenseAsP::p_layer`].
    /// Not inlined: one copy of the unrolled loop in the soft-core's image.
    #[inline(never)]
    pub fn copy_input(&mut self, input: &[u8]) {
        let mut rest = &mut *self.copies;
        while let Some((copy, r)) = rest.split_at_mut_checked(input.len()) {
            copy_words(copy, input);
            rest = r;
        }
    }

    /// Input length the table was built for.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// The P layer computing `a`'s layer: copies `a.input` `D` times into the table and takes
    /// the copies as input, `a`'s bias as bias; run it into the layer's output (`a`'s
    /// requantisation, or logits). `None` unless the table was [`DenseAsP::built_for`] `a`.
    pub fn p_layer<'s>(&'s mut self, a: &DenseArgs<'s>) -> Option<DensePArgs<'s>> {
        if !self.built_for(a) {
            return None;
        }
        self.copy_input(a.input);
        Some(DensePArgs {
            input: self.copies,
            entries: self.entries,
            row_len: U16s::new(self.row_len),
            bits: self.bits,
            bias: a.bias,
        })
    }
}

/// `dst.copy_from_slice(src)` (equal lengths), a word at a time when both are word-aligned
/// and whole words long (the soft-core's `memcpy` took 23 k cycles per image for the paper
/// head's four 64-byte copies on SERV).
fn copy_words(dst: &mut [u8], src: &[u8]) {
    let aligned = |a: usize| a.is_multiple_of(4);
    if dst.len() == src.len()
        && aligned(src.len())
        && aligned(src.as_ptr() as usize)
        && aligned(dst.as_ptr() as usize)
    {
        let (s, d) = (src.as_ptr().cast::<u32>(), dst.as_mut_ptr().cast::<u32>());
        let n = src.len() / 4;
        // Volatile, four words a step: a plain word loop is turned back into a `memcpy` call,
        // which costs ~90 cycles a byte on SERV; this is ~3 instructions a word.
        let mut i = 0;
        while i + 4 <= n {
            // SAFETY: both slices are `len` bytes long and 4-byte aligned (checked above), so
            // words `i..i + 4 <= len / 4` lie inside each; they do not overlap (`&mut`, `&`).
            unsafe {
                let (a, b) = (s.add(i).read_volatile(), s.add(i + 1).read_volatile());
                let (c, e) = (s.add(i + 2).read_volatile(), s.add(i + 3).read_volatile());
                d.add(i).write_volatile(a);
                d.add(i + 1).write_volatile(b);
                d.add(i + 2).write_volatile(c);
                d.add(i + 3).write_volatile(e);
            }
            i += 4;
        }
        while i < n {
            // SAFETY: as above, word `i < len / 4`.
            unsafe { d.add(i).write_volatile(s.add(i).read_volatile()) };
            i += 1;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// The digit count `D` and code width of the layer, from one pass over `weights`; `None` for
/// a zero length, more than `u16::MAX` outputs or more than `u16::MAX` bytes of copies (the P
/// engine's 16-bit N_OUT and N_IN).
fn shape(weights: &[i8], n_in: usize, n_out: usize) -> Option<(usize, u8)> {
    if n_in == 0 || n_in > usize::from(u16::MAX) || n_out == 0 || n_out > usize::from(u16::MAX) {
        return None;
    }
    // the largest digit count, and every digit position used
    let (mut digits, mut used) = (1usize, 0u32);
    for &w in weights {
        let (pos, neg) = naf(w.into());
        let mut m = pos | neg;
        used |= m;
        let mut n = 0;
        while m != 0 {
            m &= m - 1;
            n += 1;
        }
        digits = digits.max(n);
    }
    // the smallest code width whose magnitudes hold every shift used
    let mut bits = PBITS_MIN;
    while bits < PBITS_MAX && used >> (PCode::max_shift(bits) + 1) != 0 {
        bits += 1;
    }
    // D <= 4 copies of at most u16::MAX inputs
    (digits * n_in <= usize::from(u16::MAX)).then_some((digits, bits))
}

/// Writes the row lengths into `lens` (2 bytes per row) and the entries into `tail`; returns
/// the entry bytes, `None` when they do not fit or `weights` is not `lens.len() / 2` rows of
/// `n_in`. Each row is one walk over `D` copies of the input: position `r * n_in + i` holds
/// digit `r` of the weight of input `i`.
fn write(
    mut weights: &[i8],
    n_in: usize,
    digits: usize,
    bits: u8,
    lens: &mut [u8],
    tail: &mut [u8],
) -> Option<usize> {
    let mut lens = lens.iter_mut();
    let mut at = 0;
    while let Some((row, rest)) = weights.split_at_checked(n_in) {
        weights = rest;
        let mut codes = RowDigits {
            row,
            i: 0,
            r: 0,
            digits,
        };
        let n = encode_p_entries(&mut codes, bits, tail.get_mut(at..)?).ok()?;
        // n <= D * n_in <= u16::MAX entries, little-endian
        *lens.next()? = n as u8;
        *lens.next()? = (n >> 8) as u8;
        at += n;
    }
    (weights.is_empty() && lens.next().is_none()).then_some(at)
}

/// The P codes of one row over the input copies: digit `r` of `row[i]` at position
/// `r * row.len() + i`, for `r < digits`.
struct RowDigits<'w> {
    row: &'w [i8],
    i: usize,
    r: usize,
    digits: usize,
}

impl Iterator for RowDigits<'_> {
    type Item = PCode;
    fn next(&mut self) -> Option<PCode> {
        if self.i == self.row.len() {
            (self.i, self.r) = (0, self.r + 1);
        }
        let w = *self.row.get(self.i).filter(|_| self.r < self.digits)?;
        self.i += 1;
        Some(digit(w, self.r))
    }
}

/// NP dense layer through its P layer in software: [`dense_p`] on [`DenseAsP::p_layer`] into
/// `out`. Equal to [`super::dense`] for every input (firmware/tests/kernels.rs); the
/// accelerator backend runs the same P layer on the P engine instead.
pub fn dense_via_p(
    a: &DenseArgs<'_>,
    t: &mut DenseAsP<'_>,
    out: DenseOut<'_>,
) -> Result<(), ArgsError> {
    dense_p(&t.p_layer(a).ok_or(ArgsError::Shape)?, out)
}

#[cfg(test)]
mod tests {
    use super::{digit, naf, DENSE_AS_P_MAX_DIGITS};
    use crate::numerics::PCode;

    #[test]
    fn naf_of_every_i8() {
        let mut most = 0;
        for w in i8::MIN..=i8::MAX {
            let (pos, neg) = naf(w.into());
            let m = pos | neg;
            assert_eq!(pos & neg, 0, "{w}");
            assert_eq!(m & (m >> 1), 0, "{w}: adjacent digits");
            assert!(m < 1 << 8, "{w}: digit above 2^7");
            assert_eq!(i64::from(pos) - i64::from(neg), i64::from(w), "{w}");
            let n = m.count_ones() as usize;
            assert!(n <= DENSE_AS_P_MAX_DIGITS, "{w}: {n} digits");
            most = most.max(n);
            let value = |c: PCode| match (c.magnitude, c.negative) {
                (0, _) => 0,
                (m, false) => 1i32 << (m - 1),
                (m, true) => -(1i32 << (m - 1)),
            };
            let sum: i32 = (0..n).map(|r| value(digit(w, r))).sum();
            assert_eq!(sum, i32::from(w), "{w}: digits");
            assert!(
                (0..n).all(|r| digit(w, r).magnitude != 0),
                "{w}: a digit missing"
            );
            assert_eq!(digit(w, n).magnitude, 0, "{w}: a digit past the last");
        }
        assert_eq!(most, DENSE_AS_P_MAX_DIGITS);
        assert_eq!(
            (naf(127), naf(-128), naf(85), naf(-1)),
            ((128, 1), (0, 128), (85, 0), (0, 1))
        );
    }
}
