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

/// A code-generation fence on the soft-core: the values must be in registers here, and no
/// memory access moves across it. It emits no instruction, and LLVM no longer knows how the
/// values relate to what came before. Without it LLVM reassociates the kernels' unrolled
/// accumulations into trees and hoists every load of an unrolled loop body to its top, which
/// needs more registers than RV32 has (the spills cost more than the unrolling saves), and
/// turns [`softmul`]'s carries into shifts by 31 (35 cycles on this CPU). Elsewhere (host
/// tests) it is empty.
macro_rules! pin {
    ($($r:expr),*) => {
        #[cfg(target_arch = "riscv32")]
        // SAFETY: the template is an assembler comment: it executes nothing and changes no
        // register.
        unsafe {
            core::arch::asm!(pin_template!($($r),*), $(inout(reg) $r),*, options(nostack, preserves_flags))
        };
    };
}

/// `"# pin {} {} ..."`, one `{}` per operand of [`pin!`].
#[cfg(target_arch = "riscv32")]
macro_rules! pin_template {
    () => { "# pin" };
    ($h:expr $(, $t:expr)*) => { concat!(pin_template!($($t),*), " {}") };
}

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
pub mod softmul;
