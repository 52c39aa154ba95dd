//! Architectures as data: an [`Arch`] is the input shape and the layer list, with the
//! built-in architectures (`paper-cnn`, `mlp`) and the rules of the integer pipeline.

use firmware::numerics::conv_layer_out;
use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::data::IMAGE_SIZE;
use crate::layers::LayerSpec;

/// An architecture: input shape `[h, w, c]` and the layer list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    /// Name (`paper-cnn`, `mlp`, or anything for hand-written lists).
    pub name: String,
    /// Input shape `[h, w, c]`.
    pub input: [usize; 3],
    /// Layers in order.
    pub layers: Vec<LayerSpec>,
}

impl Arch {
    /// The paper's CNN: conv3x3x10 + ReLU, pool, conv5x5x20 + ReLU, pool, flatten,
    /// dense `hidden` + ReLU + dropout, dense `classes`.
    pub fn paper_cnn(classes: usize, hidden: usize, dropout: f32) -> Arch {
        let s = IMAGE_SIZE;
        let after = conv_layer_out(conv_layer_out(s, 3, true), 5, true); // 64 -> 62 -> 31 -> 27 -> 13
        let mut layers = vec![
            LayerSpec::Conv2d {
                in_ch: 3,
                out_ch: 10,
                kernel: 3,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Conv2d {
                in_ch: 10,
                out_ch: 20,
                kernel: 5,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: after * after * 20,
                outputs: hidden,
            },
            LayerSpec::Relu,
        ];
        if dropout > 0.0 {
            layers.push(LayerSpec::Dropout { p: dropout });
        }
        layers.push(LayerSpec::Dense {
            inputs: hidden,
            outputs: classes,
        });
        Arch {
            name: "paper-cnn".into(),
            input: [s, s, 3],
            layers,
        }
    }

    /// Multi-layer perceptron: flatten 64x64x3, dense `hidden` + ReLU, dense `classes`.
    pub fn mlp(classes: usize, hidden: usize) -> Arch {
        let s = IMAGE_SIZE;
        Arch {
            name: "mlp".into(),
            input: [s, s, 3],
            layers: vec![
                LayerSpec::Flatten,
                LayerSpec::Dense {
                    inputs: s * s * 3,
                    outputs: hidden,
                },
                LayerSpec::Relu,
                LayerSpec::Dense {
                    inputs: hidden,
                    outputs: classes,
                },
            ],
        }
    }

    /// Architecture by CLI name.
    pub fn by_name(
        name: &str,
        classes: usize,
        hidden: usize,
        dropout: f32,
    ) -> Result<Arch, ModelError> {
        match name {
            "paper-cnn" => Ok(Arch::paper_cnn(classes, hidden, dropout)),
            "mlp" => Ok(Arch::mlp(classes, hidden)),
            other => Err(ModelError::UnknownArch(other.into())),
        }
    }

    /// Checks the shapes through the list and the rules of the integer pipeline: every
    /// parametric layer except the last is followed directly by ReLU; the last parametric
    /// layer is the final dense classifier. Returns the output shape of every layer.
    pub fn validate(&self) -> Result<Vec<[usize; 3]>, ModelError> {
        let mut s = self.input;
        let mut shapes = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            s = l.output_shape(i, s)?;
            shapes.push(s);
        }
        let parametric: Vec<usize> = (0..self.layers.len())
            .filter(|&i| !self.layers[i].param_shapes().is_empty())
            .collect();
        let Some(&last) = parametric.last() else {
            return Err(ModelError::Arch("no parametric layer".into()));
        };
        if !matches!(self.layers[last], LayerSpec::Dense { .. }) || last + 1 != self.layers.len() {
            return Err(ModelError::Arch(
                "the last layer must be the dense classifier".into(),
            ));
        }
        for &i in &parametric[..parametric.len() - 1] {
            if self.layers.get(i + 1) != Some(&LayerSpec::Relu) {
                return Err(ModelError::Arch(format!(
                    "layer {i} ({}) must be followed by relu (integer pipeline)",
                    self.layers[i].op()
                )));
            }
        }
        Ok(shapes)
    }

    /// Number of classes (outputs of the final layer).
    pub fn classes(&self) -> usize {
        match self.layers.last() {
            Some(LayerSpec::Dense { outputs, .. }) => *outputs,
            _ => 0,
        }
    }

    /// `(name, shape, layer index)` of every parameter, in order.
    pub fn param_specs(&self) -> Vec<(String, Vec<usize>, usize)> {
        let mut v = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            for (shape, kind) in l.param_shapes().into_iter().zip(["weight", "bias"]) {
                v.push((format!("layers.{i}.{kind}"), shape, i));
            }
        }
        v
    }
}
