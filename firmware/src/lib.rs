//! cnnfpga firmware crate: the single integer truth of the project.
//!
//! Everything integer (host quantized evaluation, the RTL conv engine, the SoC) is checked
//! bit-exactly against the pure functions in [`numerics`]. The arithmetic is specified in
//! `docs/numerics.md`; this crate implements it once.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod numerics;
