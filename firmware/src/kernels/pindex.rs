//! [`PIndex`]: a P layer's entry bytes decoded once per model into per-row, per-group input
//! index lists, so that the per-image work of a row is a gather sum: load an index, load the
//! activation it names, add.
//!
//! # Why regrouping is exact
//! The walk ([`super::p_row`], [`crate::numerics::dense_p_acc`]) computes, in `i32` with
//! wrapping addition, `acc = Σ_k ±_k (x[i_k] << s_k)` over a row's non-zero entries `k`. With the
//! group key `g = (s, sign)` (the [`PTable`] code byte: the walk's own shift and sign), it
//! equals `Σ_g ±_g (S_g << s_g)` with `S_g = Σ_{k in g} x[i_k]`, bit for bit: wrapping `i32`
//! addition, subtraction and `wrapping_shl` by `s < 32` (both kernels shift by the code byte,
//! whose low five bits are the shift) are the ring operations `+`, `-` and `· 2^s` of the
//! integers modulo `2^32`, and in a commutative ring
//! `Σ_k ±_k 2^(s_k) x_k = Σ_g ±_g 2^(s_g) Σ_{k in g} x_k` (reorder the terms, then distribute
//! `±_g 2^(s_g)` over each group). Codes of shifts `>= 32` (7-bit codes only, which the model
//! reader rejects) keep the walk's `wrapping_shl` meaning, `2^(s mod 32)`: they are keyed by
//! the same code byte, so the identity holds for them too. (`S_g` never wraps in fact: at most
//! `n_in <= 65,535` distinct inputs of at most 255.) Property tests in firmware/tests/kernels.rs
//! compare with the walk on arbitrary entry bytes.
//!
//! # Table layout
//! `u16` words, row after row. A row is its non-empty groups in code order, each
//! `[n, code, i_1 .. i_n]` (`n >= 1` input indices in ascending order, all `< n_in`), then a
//! `0` word. A row takes `1 + 2 x groups + weights` words: the 64-wide P layer of #17's third
//! round (3-bit codes: at most 6 groups a row; 6,490 weights in 64 rows, 203 groups) took
//! `64 + 2 x 203 + 6,490 = 6,960` words, 13,920 bytes; the shipped 128-wide one (12,979 weights
//! in 128 rows) at most `128 + 2 x 768 + 12,979 = 14,643` words, 29,286 bytes.
//!
//! # When it is used
//! [`super::dense_p_indexed`] sums the first [`PIndex::rows`] rows from the table and walks the
//! others: the build stops at the first row that does not fit the storage or whose weight
//! points past the input (the walk then reports that row as [`crate::args::ArgsError::PRow`],
//! as without an index). An index built for other arguments (other entry or row-length slices,
//! code width or input length) is not used at all.

use super::{PTable, P_NEG, P_POS};
use crate::model::{Layer, LayerKind, U16s};
use crate::numerics::{PBITS_MAX, PBITS_MIN};

/// Largest input length an index covers: indices are `u16`.
pub const PINDEX_MAX_N_IN: usize = u16::MAX as usize;

/// Group codes: [`PTable`] codes are `P_POS | s` or `P_NEG | s` with `s < 32`.
const CODES: usize = 64;

/// The input index lists of one P layer (module docs), in caller-provided storage.
///
/// Invariant (relied on by `row_acc`): `words` holds `rows` row records as laid out in the
/// module docs, every index `< n_in`. The fields are private and only [`PIndex::build`] writes
/// them; `words` is borrowed from that build for `'a`, so nothing changes it afterwards.
#[derive(Clone, Copy, Debug)]
pub struct PIndex<'a> {
    entries: &'a [u8],
    row_len: &'a [u8],
    bits: u8,
    n_in: usize,
    rows: usize,
    words: &'a [u16],
}

impl<'a> PIndex<'a> {
    /// Builds the index of the P layer with these entry bytes, row lengths and code width over
    /// an `n_in`-byte input into `store`, row by row while rows fit (two walks over each row's
    /// entries). Never fails: rows that do not fit, the rows after a row whose weight points
    /// past the input or past the entries, and every row of a layer with an invalid code width
    /// or more than [`PINDEX_MAX_N_IN`] inputs are simply not covered (the kernel walks them).
    pub fn build(
        entries: &'a [u8],
        row_len: U16s<'a>,
        bits: u8,
        n_in: usize,
        store: &'a mut [u16],
    ) -> PIndex<'a> {
        let (mut rows, mut used) = (0, 0);
        if (PBITS_MIN..=PBITS_MAX).contains(&bits) && n_in <= PINDEX_MAX_N_IN {
            let t = PTable::new(u32::from(bits));
            let mut rest = entries;
            for len in row_len.iter() {
                let Some((row, r)) = rest.split_at_checked(usize::from(len)) else {
                    break;
                };
                rest = r;
                match store
                    .get_mut(used..)
                    .and_then(|out| row_record(&t, row, n_in, out))
                {
                    Some(w) => (rows, used) = (rows + 1, used + w),
                    None => break,
                }
            }
        }
        let store: &'a [u16] = store;
        PIndex {
            entries,
            row_len: row_len.as_bytes(),
            bits,
            n_in,
            rows,
            words: store.get(..used).unwrap_or_default(),
        }
    }

    /// [`PIndex::build`] for `layer`, `None` unless it is a P layer.
    pub fn for_layer(layer: &Layer<'a>, store: &'a mut [u16]) -> Option<PIndex<'a>> {
        match layer.kind {
            LayerKind::DenseP { n_in, bits, .. } => Some(PIndex::build(
                layer.entries,
                layer.row_len,
                bits,
                n_in,
                store,
            )),
            _ => None,
        }
    }

    /// Rows covered (the first `rows()` of the layer).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Storage words used.
    pub fn words(&self) -> usize {
        self.words.len()
    }

    /// The table, if it was built for exactly these arguments: the same entry and row-length
    /// slices (address and length: both are borrowed for `'a`, so equal slices hold the bytes
    /// the table was built from), code width and input length.
    pub(super) fn table_for(&self, a: &crate::args::DensePArgs<'_>) -> Option<&'a [u16]> {
        let same = core::ptr::eq(self.entries, a.entries)
            && core::ptr::eq(self.row_len, a.row_len.as_bytes())
            && self.bits == a.bits
            && self.n_in == a.input.len();
        same.then_some(self.words)
    }
}

/// Writes the record of one row (`row`: its entry bytes) into the start of `out`; returns its
/// length in words, or `None` when a weight points past the input or the record does not fit.
fn row_record(t: &PTable, row: &[u8], n_in: usize, out: &mut [u16]) -> Option<usize> {
    // walk 1: the size of each group, and the bounds check of the walk kernel
    let mut count = [0u16; CODES];
    let mut cursor = 0usize;
    for &b in row {
        cursor += usize::from(t.0[usize::from(b)]);
        let code = t.0[256 + usize::from(b)];
        if code != 0 {
            if cursor > n_in {
                return None;
            }
            // at most row.len() <= u16::MAX entries per group
            let c = count.get_mut(usize::from(code - P_POS))?;
            *c += 1;
        }
    }
    // headers; `next[g]`: where the next index of group g goes
    let mut next = [0usize; CODES];
    let mut w = 0usize;
    for ((g, &n), at) in count.iter().enumerate().zip(&mut next) {
        if n != 0 {
            *out.get_mut(w)? = n;
            *out.get_mut(w + 1)? = u16::from(P_POS) + g as u16;
            *at = w + 2;
            w += 2 + usize::from(n);
        }
    }
    // the end mark; every slot before it is inside `out` too
    *out.get_mut(w)? = 0;
    // walk 2: the indices, in ascending order within each group (cursor - 1 < n_in <= u16::MAX)
    cursor = 0;
    for &b in row {
        cursor += usize::from(t.0[usize::from(b)]);
        let code = t.0[256 + usize::from(b)];
        if code != 0 {
            let at = next.get_mut(usize::from(code - P_POS))?;
            *out.get_mut(*at)? = (cursor - 1) as u16;
            *at += 1;
        }
    }
    Some(w + 1)
}

/// The accumulator (without bias) of the row record at `*t`, which is advanced past it: per
/// group the sum `S` of the inputs it names, four per loop iteration and then one by one, and
/// `acc ±= S << s` (module docs: equal to the walk).
///
/// # Safety
/// `*t` points at a row record of a [`PIndex`]'s table (so the record and its end mark are
/// readable) built for `n_in` inputs, and `x..x + n_in` is readable.
#[inline(always)]
pub(super) unsafe fn row_acc(t: &mut *const u16, x: *const u8) -> i32 {
    // the input byte named by the index at `p + k`
    macro_rules! at {
        ($p:expr, $k:expr) => {
            // SAFETY: `p + k` is inside the record (the caller guarantees its words; the loops
            // below stay before the group's end) and the index there is `< n_in` (the PIndex
            // invariant), so `x + index` is readable.
            u32::from(unsafe { *x.add(usize::from(*$p.add($k))) })
        };
    }
    let mut p = *t;
    let mut acc = 0i32;
    loop {
        // SAFETY: `p` is at a group's count or at the record's end mark, both readable.
        let n = usize::from(unsafe { *p });
        if n == 0 {
            break;
        }
        // SAFETY: a group is its count, its code and `n` indices, all inside the record.
        let (code, end4, end) = unsafe {
            let q = p.add(2);
            (u32::from(*p.add(1)), q.add(n & !3), q.add(n))
        };
        p = p.wrapping_add(2);
        let mut s = 0u32;
        while p != end4 {
            s = s.wrapping_add(at!(p, 0)).wrapping_add(at!(p, 1));
            pin!(s);
            s = s.wrapping_add(at!(p, 2)).wrapping_add(at!(p, 3));
            pin!(s);
            p = p.wrapping_add(4);
        }
        while p != end {
            s = s.wrapping_add(at!(p, 0));
            p = p.wrapping_add(1);
        }
        let v = (s as i32).wrapping_shl(code);
        acc = if code >= u32::from(P_NEG) {
            acc.wrapping_sub(v)
        } else {
            acc.wrapping_add(v)
        };
    }
    // past the end mark
    *t = p.wrapping_add(1);
    acc
}
