// The soft-core memory map: the one place these addresses are written down.
//
// This file is plain `const` items only, because `build.rs` also `include!`s it to generate the
// linker script (so the ROM/RAM regions and the stack top cannot drift from the constants the
// binary uses). TODO(regs): once the RTL engineer's generated `firmware/src/regs.rs` (from
// `rtl/regmap/accel.toml`) carries the SoC map, replace these with re-exports from it.
//
// RAM layout (SPRAM, 128 KB at `RAM_BASE`):
//
// | range (offset from RAM_BASE) | use                                              |
// |------------------------------|--------------------------------------------------|
// | 0x0_0000 .. 0x0_4000 (16 KB) | `.data` + `.bss` (linker region `RAM`)           |
// | 0x0_4000 .. 0x1_0000 (48 KB) | inference arena (`ARENA_ADDR`, `ARENA_LEN`)      |
// | 0x1_0000 .. 0x1_C000 (48 KB) | model blob, loaded before boot (`MODEL_ADDR`)    |
// | 0x1_C000 .. 0x1_E000 ( 8 KB) | input image, HWC u8, loaded before boot          |
// | 0x1_E000 .. 0x2_0000 ( 8 KB) | stack (grows down from `STACK_TOP`)              |

/// Code and read-only data (EBR ROM), executed in place from reset.
pub const ROM_BASE: u32 = 0x0000_0000;
/// Maximum firmware image size (the linker fails beyond it).
pub const ROM_LEN: u32 = 16 * 1024;
/// SPRAM base address.
pub const RAM_BASE: u32 = 0x0002_0000;
/// SPRAM size.
pub const RAM_LEN: u32 = 128 * 1024;
/// Bytes of RAM reserved for `.data` and `.bss` (the linker fails beyond it).
pub const STATIC_LEN: u32 = 16 * 1024;
/// Inference arena (ping-pong activation buffers), see `runner::arena_bytes`.
pub const ARENA_ADDR: u32 = RAM_BASE + STATIC_LEN;
/// Size of the inference arena.
pub const ARENA_LEN: u32 = 48 * 1024;
/// Where the model blob must be in RAM when the firmware starts (4-byte aligned).
pub const MODEL_ADDR: u32 = RAM_BASE + 0x1_0000;
/// Largest model blob the firmware accepts.
pub const MODEL_MAX_LEN: u32 = 48 * 1024;
/// Where the input image (HWC u8, `h*w*c` bytes) must be in RAM when the firmware starts.
pub const INPUT_ADDR: u32 = MODEL_ADDR + MODEL_MAX_LEN;
/// Largest input image.
pub const INPUT_MAX_LEN: u32 = 8 * 1024;
/// Initial stack pointer (end of RAM); the stack owns `[INPUT_ADDR + INPUT_MAX_LEN, STACK_TOP)`.
pub const STACK_TOP: u32 = RAM_BASE + RAM_LEN;
/// SPI flash read window (picosoc `spimemio`, read-only, sequential word reads are fastest).
pub const FLASH_BASE: u32 = 0x0100_0000;
/// Flash copy of the model blob followed by the input image, laid out like RAM from
/// `MODEL_ADDR` (image at `+MODEL_MAX_LEN`). At boot the firmware copies
/// `MODEL_MAX_LEN + INPUT_MAX_LEN` bytes from here to `MODEL_ADDR` if the first word here is
/// the blob magic; otherwise it uses RAM as it finds it (a harness preloaded it).
pub const FLASH_MODEL: u32 = FLASH_BASE + 0x10_0000;
/// MMIO base (uncached region on every supported core).
pub const MMIO_BASE: u32 = 0xF000_0000;
/// UART TX: write = send the low byte (the bus stalls while busy); read bit 0 = busy.
pub const UART_TX: u32 = MMIO_BASE;
/// EXIT: write = end the simulation with this code (on the board: green LED for 0, red otherwise).
pub const EXIT: u32 = MMIO_BASE + 0x4;
/// Free-running cycle counter (read), for cores without the `cycle` CSR.
pub const CYCLES: u32 = MMIO_BASE + 0x8;
