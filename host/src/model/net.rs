//! The float network: an [`Arch`] with its parameters ([`Param`]), the forward pass (with the
//! fused conv + ReLU + pool) and the backward pass.

use ndarray::{Array4, ArrayD, IxDyn};

use super::{Arch, ModelError};
use crate::layers::{self, Cache, LayerSpec};
use crate::rng::Rng;

/// A named parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// `layers.<i>.weight` or `layers.<i>.bias`.
    pub name: String,
    /// The values.
    pub value: ArrayD<f32>,
}

/// Whether a forward pass is for training (caches, dropout) or inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Keep caches for backward, apply dropout.
    Train,
    /// No caches, dropout is the identity.
    Infer,
}

/// A network: architecture plus parameters (in [`Arch::param_specs`] order).
#[derive(Clone, Debug)]
pub struct Net {
    /// The architecture.
    pub arch: Arch,
    /// The parameters.
    pub params: Vec<Param>,
}

impl Net {
    /// He-normal weights (`std = sqrt(2 / fan_in)`), zero biases.
    pub fn init(arch: Arch, rng: &mut Rng) -> Result<Net, ModelError> {
        arch.validate()?;
        let params = arch
            .param_specs()
            .into_iter()
            .map(|(name, shape, li)| {
                let n: usize = shape.iter().product();
                let data = if name.ends_with("weight") {
                    let std = (2.0 / arch.layers[li].fan_in() as f32).sqrt();
                    (0..n).map(|_| rng.normal() * std).collect()
                } else {
                    vec![0.0; n]
                };
                Param {
                    name,
                    value: ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap(),
                }
            })
            .collect();
        Ok(Net { arch, params })
    }

    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }

    fn param_index(&self) -> Vec<Option<usize>> {
        let mut idx = Vec::with_capacity(self.arch.layers.len());
        let mut k = 0;
        for l in &self.arch.layers {
            if l.param_shapes().is_empty() {
                idx.push(None);
            } else {
                idx.push(Some(k));
                k += 2;
            }
        }
        idx
    }

    /// Forward pass of a batch `[n, h, w, c]`; returns logits `[n, classes]` (row-major, as a
    /// flat vector) and, in [`Mode::Train`], the caches for [`Net::backward`].
    pub fn forward(&self, x: Array4<f32>, mode: Mode, rng: &mut Rng) -> (Vec<f32>, Vec<Cache>) {
        let train = mode == Mode::Train;
        let pidx = self.param_index();
        let mut caches = Vec::with_capacity(self.arch.layers.len());
        let mut cur = x;
        let layers = &self.arch.layers;
        let mut fused_until = 0;
        for (i, l) in layers.iter().enumerate() {
            if i < fused_until {
                // ReLU and pool already applied by the fused conv at `fused_until - 3`.
                if train {
                    caches.push(Cache::None);
                }
                continue;
            }
            let fuse = matches!(l, LayerSpec::Conv2d { .. })
                && matches!(layers.get(i + 1), Some(LayerSpec::Relu))
                && matches!(layers.get(i + 2), Some(LayerSpec::MaxPool2));
            let (next, cache) = match *l {
                LayerSpec::Conv2d { .. } if fuse => {
                    let k = pidx[i].unwrap();
                    let (y, arg) = layers::conv_relu_pool_forward(
                        &cur,
                        &self.params[k].value,
                        &self.params[k + 1].value,
                    );
                    fused_until = i + 3;
                    (y, Cache::ConvReluPool(cur, arg))
                }
                LayerSpec::Conv2d { .. } => {
                    let k = pidx[i].unwrap();
                    let y = layers::conv_forward(
                        &cur,
                        &self.params[k].value,
                        &self.params[k + 1].value,
                    );
                    (y, Cache::Input(cur))
                }
                LayerSpec::Dense { .. } => {
                    let k = pidx[i].unwrap();
                    let y = layers::dense_forward(
                        &cur,
                        &self.params[k].value,
                        &self.params[k + 1].value,
                    );
                    (y, Cache::Input(cur))
                }
                LayerSpec::Relu => {
                    let pos = layers::relu_forward(&mut cur);
                    (cur, Cache::Positive(pos))
                }
                LayerSpec::MaxPool2 => {
                    let s = cur.shape();
                    let shape = [s[0], s[1], s[2], s[3]];
                    let (y, arg) = layers::maxpool_forward(&cur);
                    (y, Cache::Pool(shape, arg))
                }
                LayerSpec::Flatten => {
                    let s = cur.shape();
                    let shape = [s[0], s[1], s[2], s[3]];
                    let y = cur
                        .into_shape_with_order((shape[0], 1, 1, shape[1] * shape[2] * shape[3]))
                        .unwrap();
                    (y, Cache::Shape(shape))
                }
                LayerSpec::Dropout { p } => {
                    if train && p > 0.0 {
                        let mask = layers::dropout_forward(&mut cur, p, rng);
                        (cur, Cache::Mask(mask))
                    } else {
                        (cur, Cache::None)
                    }
                }
            };
            if train {
                caches.push(cache);
            }
            cur = next;
        }
        let logits = cur.into_raw_vec_and_offset().0;
        (logits, caches)
    }

    /// Backward pass from `dlogits [n, classes]`; returns one gradient per parameter.
    pub fn backward(&self, caches: Vec<Cache>, dlogits: Vec<f32>) -> Vec<ArrayD<f32>> {
        let pidx = self.param_index();
        let c = self.arch.classes();
        let n = dlogits.len() / c;
        let mut grads: Vec<Option<ArrayD<f32>>> = vec![None; self.params.len()];
        let mut g = Array4::from_shape_vec((n, 1, 1, c), dlogits).unwrap();
        let first_param_layer = pidx.iter().position(|p| p.is_some()).unwrap_or(0);
        for (i, cache) in caches.into_iter().enumerate().rev() {
            let need_dx = i > first_param_layer;
            g = match (&self.arch.layers[i], cache) {
                (LayerSpec::Conv2d { .. }, Cache::Input(x)) => {
                    let k = pidx[i].unwrap();
                    let (dx, dw, db) =
                        layers::conv_backward(&x, &self.params[k].value, &g, need_dx);
                    grads[k] = Some(dw);
                    grads[k + 1] = Some(db);
                    dx.unwrap_or_else(|| Array4::zeros((0, 0, 0, 0)))
                }
                (LayerSpec::Conv2d { .. }, Cache::ConvReluPool(x, arg)) => {
                    let k = pidx[i].unwrap();
                    let (dx, dw, db) = layers::conv_relu_pool_backward(
                        &x,
                        &self.params[k].value,
                        &arg,
                        &g,
                        need_dx,
                    );
                    grads[k] = Some(dw);
                    grads[k + 1] = Some(db);
                    dx.unwrap_or_else(|| Array4::zeros((0, 0, 0, 0)))
                }
                // Applied inside the fused conv (see `forward`).
                (LayerSpec::Relu | LayerSpec::MaxPool2, Cache::None) => g,
                (LayerSpec::Dense { .. }, Cache::Input(x)) => {
                    let k = pidx[i].unwrap();
                    let (dx, dw, db) =
                        layers::dense_backward(&x, &self.params[k].value, &g, need_dx);
                    grads[k] = Some(dw);
                    grads[k + 1] = Some(db);
                    dx.unwrap_or_else(|| Array4::zeros((0, 0, 0, 0)))
                }
                (LayerSpec::Relu, Cache::Positive(pos)) => {
                    layers::relu_backward(&pos, &mut g);
                    g
                }
                (LayerSpec::MaxPool2, Cache::Pool(shape, arg)) => {
                    layers::maxpool_backward(shape, &arg, &g)
                }
                (LayerSpec::Flatten, Cache::Shape(s)) => {
                    g.into_shape_with_order((s[0], s[1], s[2], s[3])).unwrap()
                }
                (LayerSpec::Dropout { .. }, Cache::Mask(m)) => {
                    g.iter_mut().zip(&m).for_each(|(v, m)| *v *= m);
                    g
                }
                (LayerSpec::Dropout { .. }, Cache::None) => g,
                (l, c) => unreachable!("cache {c:?} does not belong to layer {l:?}"),
            };
            if !need_dx && i <= first_param_layer {
                break;
            }
        }
        grads
            .into_iter()
            .zip(&self.params)
            .map(|(g, p)| g.unwrap_or_else(|| ArrayD::zeros(p.value.raw_dim())))
            .collect()
    }

    /// Inference on a batch: class probabilities `[n, classes]` (row-major).
    pub fn predict_proba(&self, x: Array4<f32>) -> Vec<f32> {
        let (logits, _) = self.forward(x, Mode::Infer, &mut Rng::new(0));
        layers::softmax_rows(&logits, self.arch.classes())
    }

    /// Copies every parameter of `other` whose name and shape match; returns the names loaded.
    pub fn load_matching(&mut self, other: &Net) -> Vec<String> {
        let mut loaded = Vec::new();
        for p in &mut self.params {
            if let Some(q) = other
                .params
                .iter()
                .find(|q| q.name == p.name && q.value.shape() == p.value.shape())
            {
                p.value = q.value.clone();
                loaded.push(p.name.clone());
            }
        }
        loaded
    }
}
