//! The driver seam: what a layer engine must do, and the default software engine.
//!
//! [`crate::runner::run`] hands each layer to a [`Backend`] as an argument struct of slices
//! and shapes ([`ConvArgs`], [`DenseArgs`], [`DensePArgs`], defined in [`crate::args`] and
//! re-exported here). Weight, bias and requantisation arrays are slices into the model blob,
//! 4-byte aligned relative to the blob start, so a hardware backend can pass their addresses
//! (`as_ptr()`) to an engine that reads RAM directly.
//!
//! [`SoftwareBackend`] runs the optimised kernels of [`crate::kernels`], which are tested equal
//! to the reference loops of [`crate::numerics`].
//!
//! [`crate::accel::AccelBackend`] drives the RTL conv and P-layer engines through the generated
//! register map (`crate::regs`) and falls back to [`SoftwareBackend`] for everything else.

pub use crate::args::{ArgsError, ConvArgs, DenseArgs, DenseOut, DensePArgs};
use crate::kernels;
use core::fmt;

/// A layer engine. Implementations must produce exactly the bits of [`crate::numerics`].
pub trait Backend {
    /// Engine failure (bad arguments, a hardware timeout...).
    type Error: fmt::Debug + fmt::Display;
    /// Convolution into `out` (`out_shape().len()` bytes).
    fn conv(&mut self, args: &ConvArgs<'_>, out: &mut [u8]) -> Result<(), Self::Error>;
    /// NP dense layer.
    fn dense(&mut self, args: &DenseArgs<'_>, out: DenseOut<'_>) -> Result<(), Self::Error>;
    /// P dense layer.
    fn dense_p(&mut self, args: &DensePArgs<'_>, out: DenseOut<'_>) -> Result<(), Self::Error>;
}

/// The default engine: optimised software kernels ([`crate::kernels`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct SoftwareBackend;

impl Backend for SoftwareBackend {
    type Error = ArgsError;
    fn conv(&mut self, args: &ConvArgs<'_>, out: &mut [u8]) -> Result<(), ArgsError> {
        kernels::conv2d(args, out)
    }
    fn dense(&mut self, args: &DenseArgs<'_>, out: DenseOut<'_>) -> Result<(), ArgsError> {
        kernels::dense(args, out)
    }
    fn dense_p(&mut self, args: &DensePArgs<'_>, out: DenseOut<'_>) -> Result<(), ArgsError> {
        kernels::dense_p(args, out)
    }
}
