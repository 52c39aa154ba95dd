//! Integer multiplication without a multiplier, shaped for the board's soft-cores.
//!
//! The board's CPU has no multiplier (SERV has none; PicoRV32 is built without, `BOARD_CPU_MUL`
//! = 0), so the firmware is built for `riscv32i` and LLVM turns every `*` into a call of
//! `__mulsi3` (32-bit) or `__muldi3` (64-bit). compiler_builtins' versions loop over all
//! significant bits of their *first* operand (a negative `i8` weight sign-extends to 32 of
//! them) and isolate each bit with shifts by 31, which both CPUs execute one bit per cycle
//! (PicoRV32 without its barrel shifter: `4 + n` cycles for a shift by `n`): up to ~3,000
//! cycles for one `i8 x u8` product on PicoRV32. (The convolution and dense kernels take their
//! `u8 x i8` products from a quarter-square table instead: `crate::kernels`.) The soft-core binary
//! (`src/bin/soc.rs`) therefore defines both symbols with [`mul32`] and [`mul64`], which
//! override compiler_builtins' weak ones:
//! - the loop runs over the operand of smaller magnitude (a negative operand is negated and the
//!   product negated back, exact modulo `2^32`), so an `i8 x u8` product takes at most 8 steps;
//! - a step is one bit test with `andi`, a conditional add and shifts by one; the 64-bit
//!   accumulation takes its carries with `sltu` (never a shift by 31).
//!
//! The functions are plain Rust, compiled for the host as well: the unit tests below compare
//! them with `wrapping_mul` on edge cases and random operands, and the soft-core binary's boot
//! self-test runs a few products through the symbols it exports (docs/numerics.md, "The
//! RV32IM code-generation hazard", says why such checks run on the target).

// The fences (`pin!`, an empty `asm!` with side effects) inside conditional blocks keep them
// branches: without them LLVM turns `if bit { r += v }` and the sign handling into
// branch-free masks built with shifts by 31, 35 cycles each on this CPU.

/// `m * v` modulo `2^32` by shift and add, `bits(m)` steps: the loop of [`mul32`].
#[inline(always)]
fn mul_by_small(mut m: u32, mut v: u32) -> u32 {
    let mut r = 0u32;
    while m != 0 {
        if m & 1 != 0 {
            r = r.wrapping_add(v);
            pin!(r);
        }
        v = v.wrapping_add(v);
        m >>= 1;
    }
    r
}

/// `a * b` modulo `2^32` (`wrapping_mul`, signed or unsigned alike) in
/// `min(bits(|a|), bits(|b|))` shift-and-add steps, `|x|` the magnitude of `x` as an `i32`.
pub fn mul32(a: u32, b: u32) -> u32 {
    // a = sa |a| and b = sb |b| modulo 2^32 (also for i32::MIN, whose negation is itself), so
    // a * b = sa sb |a| |b|
    let (mut ma, mut mb, mut neg) = (a, b, 0u32);
    if (ma as i32) < 0 {
        ma = ma.wrapping_neg();
        neg = 1;
        pin!(ma);
    }
    if (mb as i32) < 0 {
        mb = mb.wrapping_neg();
        neg ^= 1;
        pin!(mb);
    }
    let mut r = if ma < mb {
        mul_by_small(ma, mb)
    } else {
        mul_by_small(mb, ma)
    };
    if neg != 0 {
        r = r.wrapping_neg();
        pin!(r);
    }
    r
}

/// The full 64-bit product of two `u32` as `(low, high)` words, in `bits(min(a, b))` steps.
pub fn widening_mul32(a: u32, b: u32) -> (u32, u32) {
    let (mut m, mut vl) = if a < b { (a, b) } else { (b, a) };
    let (mut lo, mut hi, mut vh) = (0u32, 0u32, 0u32);
    while m != 0 {
        if m & 1 != 0 {
            lo = lo.wrapping_add(vl);
            hi = hi.wrapping_add(vh).wrapping_add(u32::from(lo < vl));
            pin!(lo, hi);
        }
        // (vh, vl) <<= 1, the carry out of vl by an unsigned compare: the fence hides that
        // the new `vl` is `v + v`, which LLVM would otherwise test with a shift by 31
        let v = vl;
        vl = vl.wrapping_add(vl);
        pin!(vl);
        vh = vh.wrapping_add(vh).wrapping_add(u32::from(vl < v));
        m >>= 1;
    }
    (lo, hi)
}

/// `a * b` modulo `2^64` (`wrapping_mul`, signed or unsigned alike): the low words' full
/// product ([`widening_mul32`]) plus the cross products ([`mul32`], skipped when both high
/// words are zero, as in a product of two widened `u32`).
pub fn mul64(a: u64, b: u64) -> u64 {
    let (al, ah, bl, bh) = (a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32);
    let (lo, mut hi) = widening_mul32(al, bl);
    if ah | bh != 0 {
        hi = hi.wrapping_add(mul32(al, bh)).wrapping_add(mul32(ah, bl));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

#[cfg(test)]
mod tests {
    use super::{mul32, mul64, widening_mul32};
    use proptest::prelude::*;

    const EDGES: [u32; 16] = [
        0,
        1,
        2,
        3,
        0x7f,
        0x80,
        0xff,
        0x100,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_ff80,
        0xffff_fffe,
        0xffff_ffff,
    ];

    #[test]
    fn edges() {
        for &a in &EDGES {
            for &b in &EDGES {
                assert_eq!(mul32(a, b), a.wrapping_mul(b), "{a:#x} * {b:#x}");
                let w = u64::from(a) * u64::from(b);
                assert_eq!(widening_mul32(a, b), (w as u32, (w >> 32) as u32));
                for (x, y) in [
                    (u64::from(a), u64::from(b)),
                    (i64::from(a as i32) as u64, i64::from(b as i32) as u64),
                    (u64::from(a) << 32 | u64::from(b), u64::from(b) << 7),
                ] {
                    assert_eq!(mul64(x, y), x.wrapping_mul(y), "{x:#x} * {y:#x}");
                }
            }
        }
    }

    #[test]
    fn every_u8_times_i8() {
        for x in 0..=255u32 {
            for w in -128..=127i32 {
                assert_eq!(mul32(w as u32, x) as i32, w * x as i32);
                assert_eq!(mul32(x, w as u32) as i32, w * x as i32);
            }
        }
    }

    proptest! {
        #[test]
        fn random(a in any::<u64>(), b in any::<u64>(), s in 0u32..64) {
            let (x, y) = (a >> (s % 64), b >> (s / 2));
            prop_assert_eq!(mul32(x as u32, y as u32), (x as u32).wrapping_mul(y as u32));
            prop_assert_eq!(mul64(x, y), x.wrapping_mul(y));
            prop_assert_eq!(mul64(a, b), a.wrapping_mul(b));
            let w = u64::from(a as u32) * u64::from(y as u32);
            prop_assert_eq!(widening_mul32(a as u32, y as u32), (w as u32, (w >> 32) as u32));
        }
    }
}
