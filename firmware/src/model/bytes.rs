//! Byte views into the blob: the little-endian arrays [`I32s`] and [`U16s`], the per-channel
//! [`RequantParams`], [`as_i8`], and the bounds-checked header readers the parser uses. No
//! alignment is assumed; the element readers take a single load when the bytes happen to be
//! aligned (as on the SoC, which keeps the blob at a word address).

use super::error::FormatError;
use crate::numerics::Requant;

/// The consecutive `N`-byte groups of a slice (a trailing partial group is ignored).
///
/// Like `chunks_exact(N)`, but without a division: `ChunksExact` keeps its chunk size in a
/// field, and where LLVM does not inline it (`Zip::new` of two of them) its length is a `divu`,
/// an instruction the soft-core's CPU does not have (see `firmware/tests/target_build.rs`).
#[derive(Clone, Debug)]
struct LeChunks<'a, const N: usize>(&'a [u8]);

impl<'a, const N: usize> Iterator for LeChunks<'a, N> {
    type Item = &'a [u8; N];
    fn next(&mut self) -> Option<&'a [u8; N]> {
        let (head, tail) = self.0.split_first_chunk::<N>()?;
        self.0 = tail;
        Some(head)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() / N; // N is a constant power of two here: a shift
        (n, Some(n))
    }
}

/// `i32::from_le_bytes(*b)`, as one word load when `b` is 4-byte aligned (blob arrays are
/// 4-aligned within the blob, and the SoC keeps the blob at a word address): assembling the
/// bytes takes shifts by 8, 16 and 24, which cost one cycle per bit on the SoC's CPU. The
/// aligned read is volatile because LLVM otherwise merges both branches into one unaligned
/// load, which RV32 lowers to the byte assembly again.
#[inline(always)]
fn le_i32(b: &[u8; 4]) -> i32 {
    if b.as_ptr() as usize & 3 == 0 {
        // SAFETY: `b` is 4 readable bytes at a 4-aligned address, and every bit pattern is an
        // i32.
        i32::from_le(unsafe { b.as_ptr().cast::<i32>().read_volatile() })
    } else {
        i32::from_le_bytes(*b)
    }
}

/// `u16::from_le_bytes(*b)`, as one halfword load when `b` is 2-byte aligned (see [`le_i32`]).
#[inline(always)]
fn le_u16(b: &[u8; 2]) -> u16 {
    if b.as_ptr() as usize & 1 == 0 {
        // SAFETY: `b` is 2 readable bytes at a 2-aligned address.
        u16::from_le(unsafe { b.as_ptr().cast::<u16>().read_volatile() })
    } else {
        u16::from_le_bytes(*b)
    }
}

/// A little-endian `i32` array inside the blob (no alignment assumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I32s<'a>(&'a [u8]);

impl<'a> I32s<'a> {
    /// Wraps LE bytes; a trailing partial element is ignored.
    pub const fn new(bytes: &'a [u8]) -> Self {
        I32s(bytes)
    }
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.0.len() / 4
    }
    /// True when empty.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i`, if in range.
    pub fn get(&self, i: usize) -> Option<i32> {
        let at = i.checked_mul(4)?;
        Some(le_i32(self.0.get(at..)?.first_chunk::<4>()?))
    }
    /// All elements in order.
    pub fn iter(&self) -> impl Iterator<Item = i32> + 'a {
        LeChunks::<4>(self.0).map(le_i32)
    }
    /// The underlying bytes (e.g. to hand their address to an accelerator).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// A little-endian `u16` array inside the blob (no alignment assumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U16s<'a>(&'a [u8]);

impl<'a> U16s<'a> {
    /// Wraps LE bytes; a trailing odd byte is ignored.
    pub const fn new(bytes: &'a [u8]) -> Self {
        U16s(bytes)
    }
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.0.len() / 2
    }
    /// True when empty.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i`, if in range.
    pub fn get(&self, i: usize) -> Option<u16> {
        let at = i.checked_mul(2)?;
        Some(le_u16(self.0.get(at..)?.first_chunk::<2>()?))
    }
    /// All elements in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        LeChunks::<2>(self.0).map(le_u16)
    }
    /// The underlying bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Per-output-channel requantisation parameters: the `m` (u16) and `shift` (u8) arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequantParams<'a> {
    /// Multipliers, one per output channel.
    pub m: U16s<'a>,
    /// Shifts, one per output channel.
    pub shift: &'a [u8],
}

impl<'a> RequantParams<'a> {
    /// Number of channels (the shorter of the two arrays).
    pub fn len(&self) -> usize {
        self.m.len().min(self.shift.len())
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Channel `i`'s parameters, if in range.
    pub fn get(&self, i: usize) -> Option<Requant> {
        Some(Requant {
            m: self.m.get(i)?,
            shift: *self.shift.get(i)?,
        })
    }
    /// All channels in order.
    pub fn iter(&self) -> impl Iterator<Item = Requant> + 'a {
        self.m
            .iter()
            .zip(self.shift.iter())
            .map(|(m, &shift)| Requant { m, shift })
    }
}

/// Reinterprets bytes as `i8` (same size, alignment and validity).
pub fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have identical size and alignment (1) and every bit pattern is valid
    // for both; the returned slice borrows `bytes` with the same lifetime and length.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

pub(super) fn rd_u16(b: &[u8], at: usize) -> Result<u16, FormatError> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_le_bytes([s[0], s[1]])),
        None => Err(FormatError::Truncated {
            need: at + 2,
            have: b.len(),
        }),
    }
}

pub(super) fn rd_u32(b: &[u8], at: usize) -> Result<u32, FormatError> {
    match b.get(at..at + 4) {
        Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(FormatError::Truncated {
            need: at + 4,
            have: b.len(),
        }),
    }
}
