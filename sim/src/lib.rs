//! Verilator harnesses for the cnnfpga RTL and the register-map generator.
#![deny(missing_docs)]

pub mod regmap;
