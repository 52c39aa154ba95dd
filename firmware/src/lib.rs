//! cnnfpga firmware crate: the single integer truth of the project.
//!
//! Everything integer (host quantized evaluation, the RTL conv engine, the SoC) is checked
//! bit-exactly against the pure functions in [`numerics`]. The arithmetic is specified in
//! `docs/numerics.md`; this crate implements it once. The model blob format
//! (`docs/model-format.md`) is read by [`model::Model::parse`] and, with the `alloc` feature,
//! written by [`model::encode`]. [`runner::run`] executes a parsed model through a
//! [`backend::Backend`] over a caller-provided arena; the per-layer argument types it hands over
//! live in [`args`].
//!
//! Features: `alloc` (the blob encoder, for the host exporter), `soc` (the soft-core binary).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod accel;
pub mod args;
pub mod backend;
pub mod crc;
pub mod exit;
pub mod kernels;
pub mod memmap;
pub mod model;
pub mod numerics;
pub mod proto;
pub mod regs;
pub mod rng;
pub mod runner;
