//! Training-throughput benchmark (`cnnfpga bench train`): images per second of full training
//! steps (forward, loss, backward, optimizer update) at a fixed batch size.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::layers::softmax_cross_entropy;
use crate::model::{Arch, Mode, ModelError, Net};
use crate::optim::{OptimConfig, Optimizer};
use crate::rng::Rng;

/// One benchmark measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    /// Architecture name.
    pub arch: String,
    /// Batch size.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// rayon threads.
    pub threads: usize,
    /// Images per second (timed steps only).
    pub images_per_second: f64,
    /// Mean milliseconds per step.
    pub ms_per_step: f64,
    /// CPU seconds of all threads of the process over the timed steps (Linux only): on a shared
    /// machine `images / cpu_seconds` is steadier than the wall-clock rate.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
}

/// CPU time of all threads of this process so far (sum of `/proc/self/task/*/schedstat`
/// run times), or `None` where that is not available.
pub fn process_cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
        ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Times `steps` training steps (after 2 warm-up steps) of `arch` on batches cycled from `ds`.
pub fn bench_train(
    arch: Arch,
    optim: OptimConfig,
    ds: &Dataset,
    batch: usize,
    steps: usize,
) -> Result<BenchResult, ModelError> {
    let mut rng = Rng::new(1);
    let mut net = Net::init(arch, &mut rng)?;
    let mut opt =
        Optimizer::new(optim, &net.params).map_err(|e| ModelError::Arch(e.to_string()))?;
    let classes = net.arch.classes();
    let n = ds.len().max(1);
    let mut step = |k: usize, net: &mut Net, rng: &mut Rng| {
        let idx: Vec<usize> = (0..batch).map(|j| (k * batch + j) % n).collect();
        let x = ds.batch(&idx);
        let labels: Vec<usize> = idx.iter().map(|&i| ds.labels[i] % classes).collect();
        let (logits, caches) = net.forward(x, Mode::Train, rng);
        let (_, dl, _) = softmax_cross_entropy(&logits, &labels, classes);
        let mut g = net.backward(caches, dl);
        opt.step(&mut net.params, &mut g, None).expect("bench step");
    };
    for k in 0..2 {
        step(k, &mut net, &mut rng);
    }
    let cpu0 = process_cpu_seconds();
    let t0 = Instant::now();
    for k in 0..steps {
        step(k + 2, &mut net, &mut rng);
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_seconds = cpu0.and_then(|c0| Some(process_cpu_seconds()? - c0));
    Ok(BenchResult {
        arch: net.arch.name.clone(),
        batch,
        steps,
        threads: rayon::current_num_threads(),
        images_per_second: (steps * batch) as f64 / secs,
        ms_per_step: secs * 1e3 / steps as f64,
        cpu_seconds,
    })
}

/// Images per second of on-the-fly augmentation alone ([`crate::train::make_batch`] with the
/// default [`crate::augment::AugmentConfig`]), over `steps` batches.
pub fn bench_augment(ds: &Dataset, batch: usize, steps: usize) -> f64 {
    let cfg = crate::train::TrainConfig {
        augment: Some(Default::default()),
        ..Default::default()
    };
    let n = ds.len().max(1);
    let t0 = Instant::now();
    for k in 0..steps {
        let items: Vec<(usize, Option<u64>)> = (0..batch)
            .map(|j| ((k * batch + j) % n, Some(j as u64)))
            .collect();
        std::hint::black_box(crate::train::make_batch(ds, &items, &cfg, k));
    }
    (steps * batch) as f64 / t0.elapsed().as_secs_f64()
}
