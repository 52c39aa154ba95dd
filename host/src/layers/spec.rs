//! Layer specifications (data, serialised in `model.json`), their shape rules, and the
//! per-layer [`Cache`] the forward pass keeps for the backward pass.

use firmware::numerics::{conv_out, pool_out};
use ndarray::Array4;
use serde::{Deserialize, Serialize};

/// Errors of layer construction and shape checking.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum LayerError {
    /// The input shape does not fit the layer.
    #[error("layer {index} ({op}): input shape {got:?} does not fit, expected {expected}")]
    Shape {
        /// Index of the layer in the list.
        index: usize,
        /// Layer kind.
        op: &'static str,
        /// Incoming activation shape `[h, w, c]`.
        got: [usize; 3],
        /// What the layer needs.
        expected: String,
    },
    /// A hyper-parameter is out of range.
    #[error("layer {index} ({op}): invalid parameter: {what}")]
    Invalid {
        /// Index of the layer in the list.
        index: usize,
        /// Layer kind.
        op: &'static str,
        /// Description.
        what: String,
    },
}

/// One layer of an architecture. Architectures are lists of these (see [`crate::model::Arch`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// Valid 2-D convolution, stride 1. Weight `[out_ch, kernel, kernel, in_ch]`, bias `[out_ch]`.
    Conv2d {
        /// Input channels.
        in_ch: usize,
        /// Output channels (filters).
        out_ch: usize,
        /// Square kernel size.
        kernel: usize,
    },
    /// Rectified linear unit.
    Relu,
    /// 2x2 max-pool, stride 2, floor.
    MaxPool2,
    /// `[h, w, c]` -> `[1, 1, h*w*c]`, HWC order (no data movement).
    Flatten,
    /// Fully connected. Weight `[outputs, inputs]`, bias `[outputs]`.
    Dense {
        /// Input features (the input must be flat: `[1, 1, inputs]`).
        inputs: usize,
        /// Output features.
        outputs: usize,
    },
    /// Inverted dropout with drop probability `p` (identity at inference).
    Dropout {
        /// Drop probability in `[0, 1)`.
        p: f32,
    },
}

impl LayerSpec {
    /// Short name of the operation, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::Relu => "relu",
            LayerSpec::MaxPool2 => "maxpool2",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Dropout { .. } => "dropout",
        }
    }

    /// Output shape `[h, w, c]` for an input shape, or a shape error.
    pub fn output_shape(&self, index: usize, s: [usize; 3]) -> Result<[usize; 3], LayerError> {
        let bad = |expected: String| LayerError::Shape {
            index,
            op: self.op(),
            got: s,
            expected,
        };
        match *self {
            LayerSpec::Conv2d {
                in_ch,
                out_ch,
                kernel,
            } => {
                if kernel == 0 || out_ch == 0 {
                    return Err(LayerError::Invalid {
                        index,
                        op: self.op(),
                        what: format!("kernel {kernel}, out_ch {out_ch} must be > 0"),
                    });
                }
                if s[2] != in_ch || s[0] < kernel || s[1] < kernel {
                    return Err(bad(format!("[>={kernel}, >={kernel}, {in_ch}]")));
                }
                Ok([conv_out(s[0], kernel), conv_out(s[1], kernel), out_ch])
            }
            LayerSpec::Relu => Ok(s),
            LayerSpec::MaxPool2 => {
                if s[0] < 2 || s[1] < 2 {
                    return Err(bad("[>=2, >=2, c]".into()));
                }
                Ok([pool_out(s[0]), pool_out(s[1]), s[2]])
            }
            LayerSpec::Flatten => s[0]
                .checked_mul(s[1])
                .and_then(|v| v.checked_mul(s[2]))
                .map(|n| [1, 1, n])
                .ok_or_else(|| bad("a shape whose size fits in usize".into())),
            LayerSpec::Dense { inputs, outputs } => {
                if outputs == 0 {
                    return Err(LayerError::Invalid {
                        index,
                        op: self.op(),
                        what: "outputs must be > 0".into(),
                    });
                }
                if s != [1, 1, inputs] {
                    return Err(bad(format!("[1, 1, {inputs}] (flatten first)")));
                }
                Ok([1, 1, outputs])
            }
            LayerSpec::Dropout { p } => {
                if !(0.0..1.0).contains(&p) {
                    return Err(LayerError::Invalid {
                        index,
                        op: self.op(),
                        what: format!("p = {p} not in [0, 1)"),
                    });
                }
                Ok(s)
            }
        }
    }

    /// Shapes of the layer's parameters (weight, bias) — empty for parameter-free layers.
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        match *self {
            LayerSpec::Conv2d {
                in_ch,
                out_ch,
                kernel,
            } => {
                vec![vec![out_ch, kernel, kernel, in_ch], vec![out_ch]]
            }
            LayerSpec::Dense { inputs, outputs } => vec![vec![outputs, inputs], vec![outputs]],
            _ => vec![],
        }
    }

    /// Fan-in of a parametric layer (for He initialisation).
    pub fn fan_in(&self) -> usize {
        match *self {
            LayerSpec::Conv2d { in_ch, kernel, .. } => in_ch * kernel * kernel,
            LayerSpec::Dense { inputs, .. } => inputs,
            _ => 0,
        }
    }
}

/// What a layer keeps from the forward pass for its backward pass.
#[derive(Debug)]
pub enum Cache {
    /// Nothing kept (inference, or a layer that needs nothing).
    None,
    /// The layer input (conv, dense).
    Input(Array4<f32>),
    /// Flatten: the input shape.
    Shape([usize; 4]),
    /// ReLU: where the input was > 0.
    Positive(Vec<bool>),
    /// Max-pool: input shape and, per output element, the arg-max position 0..4 in its window.
    Pool([usize; 4], Vec<u8>),
    /// Dropout: the multiplier per element (0 or 1/(1-p)).
    Mask(Vec<f32>),
    /// Fused conv + ReLU + max-pool ([`super::conv_relu_pool_forward`]): the conv input and the
    /// arg-max codes. The ReLU and pool layers of the triple keep [`Cache::None`].
    ConvReluPool(Array4<f32>, Vec<u8>),
}
