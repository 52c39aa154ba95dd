//! cnnfpga host side: image data, augmentation, float layers and training, evaluation, the
//! model directory format and the `cnnfpga` command line.
//!
//! Layout contract with the integer side: activations NHWC (flatten index `(y*W + x)*C + c`),
//! conv weights `[out, k, k, in]`, dense weights `[out, in]`, input `pixel / 255`.
#![deny(missing_docs)]

pub mod augment;
pub mod bench;
pub mod cli;
pub mod data;
pub mod eval;
#[cfg(feature = "hw")]
pub mod fpga;
pub mod layers;
pub mod model;
pub mod onnx;
pub mod optim;
pub mod outdir;
pub mod plots;
pub mod qmodel;
pub mod quant;
pub mod report;
pub mod rng;
pub mod simrun;
pub mod train;
