//! A small, explicit, serialisable PRNG (xoshiro256**, seeded through the project's one
//! SplitMix64, `firmware::rng::SplitMix64`).
//!
//! Training must be reproducible and resumable: the whole generator state is four `u64`s that
//! go into the checkpoint, and per-sample streams are derived from `(seed, epoch, index)` so the
//! result does not depend on how rayon schedules the work.

use firmware::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// xoshiro256** generator. `Clone` gives an independent copy of the stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Generator seeded from one `u64`.
    pub fn new(seed: u64) -> Self {
        let mut x = SplitMix64::new(seed);
        let s = [x.next_u64(), x.next_u64(), x.next_u64(), x.next_u64()];
        Rng { s }
    }

    /// Generator for a sub-stream identified by a list of keys (seed, epoch, sample index, ...).
    pub fn derive(keys: &[u64]) -> Self {
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        for &k in keys {
            // one SplitMix64 step from `x ^ k`; its output is the next state
            x = SplitMix64::new(x ^ k).next_u64();
        }
        Rng::new(x)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 24 bits of precision.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.uniform() < p
    }

    /// Standard normal sample (Box–Muller, f64 inside).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
        let u2 = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequences are pinned (training runs, shipped models and seeded tests depend on
    /// them). Values printed by the implementation before the shared SplitMix64 (this file at
    /// commit 841a581, its own `splitmix64` function) with
    /// `Rng::new(42)` x3 and `Rng::derive(&[7, 3, 11])` x2.
    #[test]
    fn sequences_are_pinned() {
        let mut a = Rng::new(42);
        let got = [a.next_u64(), a.next_u64(), a.next_u64()];
        let want = [
            1_546_998_764_402_558_742,
            6_990_951_692_964_543_102,
            12_544_586_762_248_559_009,
        ];
        assert_eq!(got, want);
        let mut b = Rng::derive(&[7, 3, 11]);
        let got = [b.next_u64(), b.next_u64()];
        assert_eq!(got, [18_430_111_791_791_093_742, 3_134_141_196_884_630_646]);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut r1 = Rng::derive(&[1, 2, 3]);
        let mut r2 = Rng::derive(&[1, 2, 4]);
        assert_ne!(r1.next_u64(), r2.next_u64());
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Rng::new(42);
        let n = 20000;
        let u: Vec<f32> = (0..n).map(|_| r.uniform()).collect();
        let mean = u.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let g: Vec<f32> = (0..n).map(|_| r.normal()).collect();
        let m = g.iter().sum::<f32>() / n as f32;
        let var = g.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / n as f32;
        assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{m} {var}");
        let mut counts = [0usize; 5];
        for _ in 0..n {
            counts[r.below(5)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (c as f32 - 4000.0).abs() < 300.0),
            "{counts:?}"
        );
    }
}
