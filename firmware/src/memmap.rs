//! The soft-core memory map, as the firmware uses it.
//!
//! Every address comes from the generated [`crate::regs`] (source: `rtl/regmap/accel.toml`,
//! the single source for the RTL, this crate and `docs/registers.md`); this module only
//! re-exports them under the names the firmware uses and adds the firmware image header,
//! which only software reads (the boot ROM generator, `cargo xtask codegen`, takes it from here).
//! `build.rs` compiles this file too, to write the linker script from the same constants.
//!
//! The RAM layout (areas `FW`, `ARENA`, `MODEL`, `INPUT`, `STACK` in the 128 KB SPRAM) and the
//! flash layout, with addresses, sizes and uses, are in the generated `docs/registers.md`
//! ("Layout areas"); they are not copied here, so they cannot go stale. One use is the
//! firmware's alone: `bin/soc.rs` keeps a table built once per model in the part of `MODEL`
//! after the blob: with the P engine, the P layer of the first NP dense layer
//! (`kernels::DenseAsP`: its entries, row lengths and the input copies it reads), without it,
//! the P layer's input index (`kernels::PIndex`). A table that does not fit is not built (that
//! layer runs in software, or its rows past the space are walked).

pub use crate::regs::{
    ARENA_ADDR, ARENA_LEN, FLASH_BASE, FLASH_FW_ADDR, FLASH_FW_LEN, FLASH_FW_OFFSET,
    FLASH_INPUT_ADDR, FLASH_INPUT_LEN, FLASH_INPUT_OFFSET, FLASH_MODEL_ADDR, FLASH_MODEL_LEN,
    FLASH_MODEL_OFFSET, FLASH_SIZE, FW_ADDR, FW_LEN, INPUT_ADDR, INPUT_LEN, MMIO_BASE, MODEL_ADDR,
    MODEL_LEN, RAM_BASE, RAM_SIZE, ROM_BASE, ROM_SIZE, STACK_ADDR, STACK_LEN,
};

/// Initial stack pointer (end of the STACK area).
pub const STACK_TOP: u32 = STACK_ADDR + STACK_LEN;
/// Largest model blob the firmware accepts.
pub const MODEL_MAX_LEN: u32 = MODEL_LEN;
/// Largest input image.
pub const INPUT_MAX_LEN: u32 = INPUT_LEN;

/// UART TX: write = send the low byte (the bus stalls while busy); read bit 0 = busy.
pub const UART_TX: u32 = crate::regs::sys::BASE + crate::regs::sys::UART_DATA;
/// EXIT: write = end the simulation with this code (on the board: green LED for 0, red otherwise).
pub const EXIT: u32 = crate::regs::sys::BASE + crate::regs::sys::EXIT;
/// Free-running cycle counter (read), for cores without the `cycle` CSR.
pub const CYCLES: u32 = crate::regs::sys::BASE + crate::regs::sys::CYCLES;
/// Read: stalls until no engine is busy; returns which engines exist.
pub const ENGINE_WAIT: u32 = crate::regs::sys::BASE + crate::regs::sys::ENGINE_WAIT;

/// Firmware image header magic at `FLASH_FW_ADDR` (`u32::from_le_bytes` of it is what the
/// boot ROM compares).
pub const FW_MAGIC: [u8; 4] = *b"CNFW";
/// Bytes of the firmware image header: magic, binary length, flags, 0 (four u32 LE).
pub const FW_HEADER_LEN: u32 = 16;
/// Address of the header's flags word in flash (the firmware reads it at run time).
pub const FW_FLAGS_ADDR: u32 = FLASH_FW_ADDR + 8;
/// Flags bit 0: run every layer in software (ignore the engines), without a rebuild.
pub const FW_FLAG_SOFTWARE: u32 = 1 << 0;
/// Flags bit 1: serve mode: after loading the model, answer request frames on the UART
/// (`firmware::proto`) forever instead of classifying the flash input image once and exiting.
pub const FW_FLAG_SERVE: u32 = 1 << 1;
/// UART RX: read = the holding register (`regs::sys::UART_RX_*` fields); a read pops it.
pub const UART_RX: u32 = crate::regs::sys::BASE + crate::regs::sys::UART_RX;
