//! Magnitude pruning for P layers: masks and a gradual sparsity schedule.

use super::error::{check_finite, check_len, QuantError, Result};

fn check_sparsity(op: &'static str, sparsity: f64) -> Result<()> {
    if (0.0..1.0).contains(&sparsity) {
        Ok(())
    } else {
        Err(QuantError::BadSparsity { op, sparsity })
    }
}

/// Number of weights pruned out of `n` at `sparsity`: `round(sparsity * n)` (half away from
/// zero; rounding rather than floor/ceil so `0.3 * 10 = 3.0000000000000004` gives 3).
pub fn pruned_count(n: usize, sparsity: f64) -> usize {
    ((sparsity * n as f64).round() as usize).min(n)
}

/// Magnitude-pruning mask over one weight tensor (any shape, flattened; `[n]` in, `[n]` out):
/// `true` = keep. The [`pruned_count`] smallest `|w|` are pruned; ties in `|w|` are broken by
/// index (the lower index is pruned first), so the result is deterministic.
///
/// Gradual pruning calls this at each step of a [`PruneSchedule`] with the current weights;
/// weights pruned earlier are held at exactly 0 by the training loop's frozen mask, so they
/// stay the smallest and remain pruned (`|0|` sorts first).
pub fn magnitude_prune_mask(weights: &[f32], sparsity: f64) -> Result<Vec<bool>> {
    const OP: &str = "magnitude_prune_mask";
    check_sparsity(OP, sparsity)?;
    check_finite(OP, weights)?;
    let n_prune = pruned_count(weights.len(), sparsity);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // (|w|, index) ascending; a total order, so the selection below is deterministic.
    let key = |&i: &usize| (weights[i].abs(), i);
    let cmp = |a: &usize, b: &usize| {
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1))
    };
    let mut mask = vec![true; weights.len()];
    if n_prune > 0 {
        order.select_nth_unstable_by(n_prune - 1, cmp);
        for &i in &order[..n_prune] {
            mask[i] = false;
        }
    }
    Ok(mask)
}

/// Zeroes the pruned weights in place (`weights`, `mask`: `[n]`).
pub fn apply_mask(weights: &mut [f32], mask: &[bool]) -> Result<()> {
    check_len("apply_mask", "mask", weights.len(), mask.len())?;
    for (w, &keep) in weights.iter_mut().zip(mask) {
        if !keep {
            *w = 0.0;
        }
    }
    Ok(())
}

/// Fraction of exact zeros in `weights` (0 for an empty slice).
pub fn sparsity_of(weights: &[f32]) -> f64 {
    if weights.is_empty() {
        return 0.0;
    }
    weights.iter().filter(|&&w| w == 0.0).count() as f64 / weights.len() as f64
}

/// Shape of a gradual pruning schedule from `initial` to `target` sparsity over `steps`
/// pruning steps (step 0 prunes to `initial`, step `steps` and later to `target`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PruneSchedule {
    /// `s_t = s_i + (s_f - s_i) * t/n`.
    Linear,
    /// Zhu & Gupta (2017, "To prune, or not to prune"): `s_t = s_f + (s_i - s_f) * (1 - t/n)^3`,
    /// pruning fast early while many redundant weights remain, slowly near the target.
    #[default]
    Cubic,
}

impl PruneSchedule {
    /// Target sparsity at pruning step `step` of `steps` (`steps >= 1`; `steps == 0` means
    /// "jump straight to `target`"). Both sparsities must lie in `[0, 1)`.
    pub fn sparsity_at(self, step: usize, steps: usize, initial: f64, target: f64) -> Result<f64> {
        const OP: &str = "PruneSchedule::sparsity_at";
        check_sparsity(OP, initial)?;
        check_sparsity(OP, target)?;
        if steps == 0 || step >= steps {
            return Ok(target);
        }
        let t = step as f64 / steps as f64;
        Ok(match self {
            PruneSchedule::Linear => initial + (target - initial) * t,
            PruneSchedule::Cubic => target + (initial - target) * (1.0 - t).powi(3),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_by_hand() {
        // |w| = [0.5, 0.1, 0.9, 0.1, 0.3, 0.0]; 50% of 6 = 3 pruned: the zero (idx 5) and the two
        // 0.1s (idx 1, 3) -> keep idx 0, 2, 4
        let w = [0.5f32, -0.1, 0.9, 0.1, -0.3, 0.0];
        assert_eq!(
            magnitude_prune_mask(&w, 0.5).unwrap(),
            vec![true, false, true, false, true, false]
        );
        // 1/3 of 6 = 2: zero and the lower-index 0.1 (idx 1) pruned; tie broken by index
        assert_eq!(
            magnitude_prune_mask(&w, 1.0 / 3.0).unwrap(),
            vec![true, false, true, true, true, false]
        );
        // 0 -> nothing pruned
        assert!(magnitude_prune_mask(&w, 0.0).unwrap().iter().all(|&k| k));
        // round(0.3 * 10) = 3 despite 0.3*10 = 3.0000000000000004 in f64
        assert_eq!(pruned_count(10, 0.3), 3);
        assert_eq!(pruned_count(10, 0.25), 3); // 2.5 -> 3 (half away from zero)
        assert_eq!(pruned_count(7, 0.999), 7);
    }

    #[test]
    fn mask_errors_and_apply() {
        assert!(matches!(
            magnitude_prune_mask(&[1.0], 1.0),
            Err(QuantError::BadSparsity { .. })
        ));
        assert!(matches!(
            magnitude_prune_mask(&[1.0], -0.1),
            Err(QuantError::BadSparsity { .. })
        ));
        assert!(matches!(
            magnitude_prune_mask(&[f32::NAN], 0.5),
            Err(QuantError::NonFinite { .. })
        ));
        let mut w = vec![1.0f32, 2.0, 3.0];
        apply_mask(&mut w, &[true, false, true]).unwrap();
        assert_eq!(w, vec![1.0, 0.0, 3.0]);
        assert!((sparsity_of(&w) - 1.0 / 3.0).abs() < 1e-12);
        assert!(apply_mask(&mut w, &[true]).is_err());
    }

    #[test]
    fn mask_reaches_target_on_larger_tensor() {
        let w: Vec<f32> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f32 - 500.0)
            .collect();
        for s in [0.1, 0.5, 0.9, 0.95] {
            let m = magnitude_prune_mask(&w, s).unwrap();
            let pruned = m.iter().filter(|&&k| !k).count();
            assert_eq!(pruned, (s * 1000.0).round() as usize);
            // every kept |w| >= every pruned |w|
            let max_pruned = w
                .iter()
                .zip(&m)
                .filter(|(_, &k)| !k)
                .map(|(x, _)| x.abs())
                .fold(0.0, f32::max);
            let min_kept = w
                .iter()
                .zip(&m)
                .filter(|(_, &k)| k)
                .map(|(x, _)| x.abs())
                .fold(f32::MAX, f32::min);
            assert!(max_pruned <= min_kept);
        }
    }

    #[test]
    fn schedules_by_hand() {
        // cubic 0 -> 0.8 over 4 steps: t = 1/2 -> 0.8 + (0 - 0.8) * (1/2)^3 = 0.8 - 0.1 = 0.7
        let c = PruneSchedule::Cubic;
        assert!((c.sparsity_at(2, 4, 0.0, 0.8).unwrap() - 0.7).abs() < 1e-12);
        // t = 1/4: 0.8 - 0.8 * 27/64 = 0.4625
        assert!((c.sparsity_at(1, 4, 0.0, 0.8).unwrap() - 0.4625).abs() < 1e-12);
        assert_eq!(c.sparsity_at(0, 4, 0.0, 0.8).unwrap(), 0.0);
        assert_eq!(c.sparsity_at(4, 4, 0.0, 0.8).unwrap(), 0.8);
        assert_eq!(c.sparsity_at(9, 4, 0.0, 0.8).unwrap(), 0.8);
        // linear 0.2 -> 0.6 over 4: step 1 -> 0.3
        assert!((PruneSchedule::Linear.sparsity_at(1, 4, 0.2, 0.6).unwrap() - 0.3).abs() < 1e-12);
        assert!(c.sparsity_at(1, 4, 0.0, 1.0).is_err());
        // monotone non-decreasing
        let mut prev = 0.0;
        for t in 0..=10 {
            let s = c.sparsity_at(t, 10, 0.0, 0.9).unwrap();
            assert!(s >= prev);
            prev = s;
        }
    }
}
