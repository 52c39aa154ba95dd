//! The layer argument types: what [`crate::runner::run`] hands to a
//! [`crate::backend::Backend`] for one layer, and the error a kernel returns when they are
//! inconsistent.
//!
//! [`ConvArgs`], [`DenseArgs`] and [`DensePArgs`] are slices and shapes; weight, bias and
//! requantisation arrays are slices into the model blob, 4-byte aligned relative to the blob
//! start, so a hardware backend can pass their addresses (`as_ptr()`) to an engine that reads
//! RAM directly. They live apart from [`crate::backend`] so that [`crate::kernels`] (which
//! takes them) and the backend (which calls the kernels) do not import each other.

use crate::model::{I32s, RequantParams, Shape, U16s};
use crate::numerics::conv_layer_out;
use core::fmt;

/// Arguments of a convolution layer (valid, stride 1, requantise + ReLU, optional 2x2 pool).
#[derive(Clone, Copy, Debug)]
pub struct ConvArgs<'a> {
    /// Input activations `[h][w][c]`.
    pub input: &'a [u8],
    /// Shape of `input`.
    pub in_shape: Shape,
    /// Kernel side.
    pub k: usize,
    /// Output channels.
    pub cout: usize,
    /// Fused 2x2/2 max-pool (floor).
    pub pool: bool,
    /// Weights `[cout][k][k][cin]`.
    pub weights: &'a [i8],
    /// Bias `[cout]`.
    pub bias: I32s<'a>,
    /// Requantisation `[cout]`.
    pub rq: RequantParams<'a>,
}

impl ConvArgs<'_> {
    /// Output shape (after pooling), `None` if `k` does not fit the input.
    pub fn out_shape(&self) -> Option<Shape> {
        let s = self.in_shape;
        if self.k == 0 || self.k > s.h || self.k > s.w {
            return None;
        }
        Some(Shape {
            h: conv_layer_out(s.h, self.k, self.pool),
            w: conv_layer_out(s.w, self.k, self.pool),
            c: self.cout,
        })
    }
}

/// Arguments of an NP dense layer.
#[derive(Clone, Copy, Debug)]
pub struct DenseArgs<'a> {
    /// Input activations (flattened).
    pub input: &'a [u8],
    /// Weights `[out][in]`.
    pub weights: &'a [i8],
    /// Bias `[out]`.
    pub bias: I32s<'a>,
}

/// Arguments of a P (sparse power-of-two) dense layer.
#[derive(Clone, Copy, Debug)]
pub struct DensePArgs<'a> {
    /// Input activations (flattened).
    pub input: &'a [u8],
    /// Entry bytes of all rows (see [`crate::numerics::PCode`]).
    pub entries: &'a [u8],
    /// Entries per row `[out]`.
    pub row_len: U16s<'a>,
    /// Code width.
    pub bits: u8,
    /// Bias `[out]`.
    pub bias: I32s<'a>,
}

/// Where a dense layer's result goes.
#[derive(Debug)]
pub enum DenseOut<'a> {
    /// Requantise to u8 activations (a hidden layer).
    Act {
        /// Requantisation `[out]`.
        rq: RequantParams<'a>,
        /// Output `[out]`.
        out: &'a mut [u8],
    },
    /// Raw accumulators (the final layer's logits) `[out]`.
    Logits(&'a mut [i32]),
}

/// Argument slices inconsistent with the shapes (a caller bug; the runner never produces it
/// for a parsed model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgsError {
    /// An array has the wrong length (or a size computation overflowed: `expected == usize::MAX`).
    Len {
        /// Which argument.
        what: &'static str,
        /// Length the shapes require.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The kernel does not fit the input, or a shape is zero.
    Shape,
    /// A P-layer row runs past its input, or its entries past the entry array.
    PRow {
        /// Row index.
        row: usize,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArgsError::Len {
                what,
                expected,
                got,
            } => {
                write!(f, "{what}: expected {expected} elements, got {got}")
            }
            ArgsError::Shape => f.write_str("kernel larger than input or empty shape"),
            ArgsError::PRow { row } => write!(f, "P row {row} overruns its input or entries"),
        }
    }
}

impl core::error::Error for ArgsError {}
