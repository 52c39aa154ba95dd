//! Optimizers (Adam, SGD with momentum) with optional per-parameter masks of frozen entries.
//!
//! A frozen entry (mask `true`) gets a zero gradient before the update and its value is restored
//! after it, so neither momentum nor rounding can move it: the hook the quantizer (INQ, pruning)
//! uses to retrain the remaining weights with the same loop.

use std::collections::BTreeMap;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::model::Param;

/// Frozen-entry masks by parameter name (`layers.<i>.weight`); `true` = frozen. Each mask has
/// the parameter's number of elements (row-major order).
pub type ParamMasks = BTreeMap<String, Vec<bool>>;

/// Errors of optimizer configuration and use.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum OptimError {
    /// A hyper-parameter is out of range.
    #[error("optimizer {op}: {what}")]
    Invalid {
        /// Optimizer name.
        op: &'static str,
        /// What is wrong.
        what: String,
    },
    /// A mask or gradient does not match its parameter.
    #[error("optimizer step: {name}: expected {expected} elements, got {got}")]
    Shape {
        /// Parameter name.
        name: String,
        /// Parameter size.
        expected: usize,
        /// Mask or gradient size.
        got: usize,
    },
}

/// Optimizer hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimConfig {
    /// Adam (Kingma & Ba 2015) with bias correction.
    Adam {
        /// Step size.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator epsilon.
        eps: f32,
    },
    /// Plain SGD, optionally with (heavy-ball) momentum: `v = mu v + g; w -= lr v`.
    Sgd {
        /// Step size.
        lr: f32,
        /// Momentum `mu` in `[0, 1)`.
        momentum: f32,
    },
}

impl OptimConfig {
    /// Adam with the usual betas and `eps = 1e-8`.
    pub fn adam(lr: f32) -> Self {
        OptimConfig::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
    /// SGD with momentum.
    pub fn sgd(lr: f32, momentum: f32) -> Self {
        OptimConfig::Sgd { lr, momentum }
    }
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), OptimError> {
        let bad = |op, what: String| Err(OptimError::Invalid { op, what });
        match *self {
            OptimConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                if !(lr > 0.0 && lr.is_finite()) {
                    return bad("adam", format!("lr = {lr} must be > 0"));
                }
                if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && eps > 0.0) {
                    return bad(
                        "adam",
                        format!("betas ({beta1}, {beta2}) must be in [0, 1), eps > 0"),
                    );
                }
            }
            OptimConfig::Sgd { lr, momentum } => {
                if !(lr > 0.0 && lr.is_finite()) {
                    return bad("sgd", format!("lr = {lr} must be > 0"));
                }
                if !(0.0..1.0).contains(&momentum) {
                    return bad("sgd", format!("momentum = {momentum} must be in [0, 1)"));
                }
            }
        }
        Ok(())
    }
}

/// Optimizer state (moments and step count), serialisable for checkpoints.
#[derive(Clone, Debug)]
pub struct Optimizer {
    /// Hyper-parameters.
    pub config: OptimConfig,
    /// Steps taken.
    pub t: u64,
    /// First moments (Adam) or velocities (SGD momentum), one per parameter.
    pub m: Vec<ArrayD<f32>>,
    /// Second moments (Adam only; empty otherwise).
    pub v: Vec<ArrayD<f32>>,
    /// Factor on the configured learning rate for the next steps (a schedule sets it; 1.0).
    pub lr_scale: f32,
}

impl Optimizer {
    /// Fresh state for `params`.
    pub fn new(config: OptimConfig, params: &[Param]) -> Result<Self, OptimError> {
        config.validate()?;
        let zeros = || {
            params
                .iter()
                .map(|p| ArrayD::zeros(p.value.raw_dim()))
                .collect::<Vec<_>>()
        };
        let v = if matches!(config, OptimConfig::Adam { .. }) {
            zeros()
        } else {
            Vec::new()
        };
        Ok(Optimizer {
            config,
            t: 0,
            m: zeros(),
            v,
            lr_scale: 1.0,
        })
    }

    /// One update of `params` with `grads` (same order). Frozen entries per `masks` keep their
    /// values exactly.
    pub fn step(
        &mut self,
        params: &mut [Param],
        grads: &mut [ArrayD<f32>],
        masks: Option<&ParamMasks>,
    ) -> Result<(), OptimError> {
        for (p, g) in params.iter().zip(grads.iter()) {
            if g.len() != p.value.len() {
                return Err(OptimError::Shape {
                    name: p.name.clone(),
                    expected: p.value.len(),
                    got: g.len(),
                });
            }
        }
        let frozen: Vec<Option<&Vec<bool>>> = params
            .iter()
            .map(|p| masks.and_then(|m| m.get(&p.name)))
            .collect();
        for (p, f) in params.iter().zip(&frozen) {
            if let Some(f) = f {
                if f.len() != p.value.len() {
                    return Err(OptimError::Shape {
                        name: p.name.clone(),
                        expected: p.value.len(),
                        got: f.len(),
                    });
                }
            }
        }
        // Zero the gradient of frozen entries and remember their values.
        let saved: Vec<Option<Vec<f32>>> = params
            .iter()
            .zip(grads.iter_mut())
            .zip(&frozen)
            .map(|((p, g), f)| {
                f.map(|f| {
                    g.iter_mut().zip(f.iter()).for_each(|(g, &fz)| {
                        if fz {
                            *g = 0.0
                        }
                    });
                    p.value.iter().cloned().collect()
                })
            })
            .collect();
        self.t += 1;
        match self.config {
            OptimConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let lr = lr * self.lr_scale;
                let t = self.t as i32;
                let bc1 = 1.0 - beta1.powi(t);
                let bc2 = 1.0 - beta2.powi(t);
                for (((p, g), m), v) in params
                    .iter_mut()
                    .zip(grads.iter())
                    .zip(&mut self.m)
                    .zip(&mut self.v)
                {
                    ndarray::Zip::from(&mut p.value)
                        .and(g)
                        .and(m)
                        .and(v)
                        .for_each(|w, &g, m, v| {
                            *m = beta1 * *m + (1.0 - beta1) * g;
                            *v = beta2 * *v + (1.0 - beta2) * g * g;
                            let mhat = *m / bc1;
                            let vhat = *v / bc2;
                            *w -= lr * mhat / (vhat.sqrt() + eps);
                        });
                }
            }
            OptimConfig::Sgd { lr, momentum } => {
                let lr = lr * self.lr_scale;
                for ((p, g), m) in params.iter_mut().zip(grads.iter()).zip(&mut self.m) {
                    ndarray::Zip::from(&mut p.value)
                        .and(g)
                        .and(m)
                        .for_each(|w, &g, m| {
                            *m = momentum * *m + g;
                            *w -= lr * *m;
                        });
                }
            }
        }
        for ((p, s), f) in params.iter_mut().zip(saved).zip(&frozen) {
            if let (Some(s), Some(f)) = (s, f) {
                p.value
                    .iter_mut()
                    .zip(s)
                    .zip(f.iter())
                    .for_each(|((w, s), &fz)| {
                        if fz {
                            *w = s
                        }
                    });
            }
        }
        Ok(())
    }
}
