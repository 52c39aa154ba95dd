//! The project's one SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, no
//! dependencies, `no_std`. It makes the reproducible test stimulus of the firmware tests and of
//! `sim` (`sim::rng::Rng` is this type) and seeds the host's training generator
//! (`host::rng::Rng`, xoshiro256**, seeded through [`SplitMix64::next_u64`]). Its output
//! sequence is pinned: seeded tests, golden vectors and shipped models depend on it.
//!
//! Not used by the soft-core binary (nothing in it is random).

/// SplitMix64: fast, statistically fine for test data and for seeding; every seed (0
/// included) is fine. `Clone` gives an independent copy of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo <= hi`; modulo reduction, bias negligible for test ranges).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform `i64` in `lo..=hi` (`lo <= hi`), the same draw as [`SplitMix64::range`].
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// Uniform `usize` in `lo..=hi`.
    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.next_u64() % 100 < u64::from(percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published reference sequence for seed 1234567: the first five outputs listed by
    /// Rosetta Code's task "Pseudo-random numbers/Splitmix64"
    /// (`https://rosettacode.org/wiki/Pseudo-random_numbers/Splitmix64`), the algorithm of
    /// Vigna's `splitmix64.c`.
    #[test]
    fn matches_the_reference_sequence() {
        let mut r = SplitMix64::new(1234567);
        let got: [u64; 5] = core::array::from_fn(|_| r.next_u64());
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821,
            ]
        );
    }

    #[test]
    fn ranges_stay_inside_and_agree() {
        let (mut a, mut b) = (SplitMix64::new(9), SplitMix64::new(9));
        for _ in 0..1000 {
            let x = a.range(3, 7);
            assert!((3..=7).contains(&x));
            // same draw, shifted into a signed range
            assert_eq!(b.range_i64(-2, 2), x as i64 - 5);
        }
        let mut c = SplitMix64::new(0);
        assert!(!(0..100).any(|_| c.chance(0)));
        assert!((0..100).all(|_| c.chance(100)));
    }
}
