//! cnnfpga developer tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! - [`codegen`]: `cargo xtask codegen [--check]` writes (or checks) every file generated from
//!   `rtl/regmap/accel.toml`;
//! - [`regmap`]: the register map's model and its SystemVerilog, Rust and Markdown renderers;
//! - [`bootrom`]: the SoC boot ROM, assembled from the map;
//! - [`header`]: the generated-file header and text helpers both renderers share.
//!
//! Module graph (no circle): `codegen -> {regmap, bootrom}`, `bootrom -> regmap`,
//! `{regmap, bootrom} -> header`.
#![deny(missing_docs)]

pub mod bootrom;
pub mod codegen;
pub mod header;
pub mod regmap;
