// Generated from rtl/regmap/accel.toml by `cargo run -p sim --bin regmap`; do not edit.
// Edit the TOML file and re-run the generator (`-- --check` verifies in CI).
//! Register map, SoC memory map and hardware parameters of the cnnfpga accelerator,
//! generated from `rtl/regmap/accel.toml` (see `docs/registers.md`).

// ---- hardware parameters (RTL defaults; read CONV.HWCFG for the instance's values) ----

/// Output channels computed in parallel by the conv engine (one MAC per lane). 5 divides the paper CNN's 10 and 20 output channels.
pub const LANES: usize = 5;
/// Largest supported square kernel size k (1..=KMAX).
pub const KMAX: usize = 5;
/// Largest input height, width, input channels and output channels of one conv layer.
pub const DIM_MAX: usize = 1023;
/// Depth in bytes of each lane's weight buffer: a layer needs k*k*cin <= WBUF_DEPTH.
pub const WBUF_DEPTH: usize = 512;
/// Entries (32-bit words) of the engine's read-prefetch FIFO.
pub const FETCH_FIFO_DEPTH: usize = 4;

// ---- SoC memory map ----

/// Base address of ROM: Boot ROM in EBR (code and read-only data), preloaded with the firmware image; writable in simulation.
pub const ROM_BASE: u32 = 0x0000_0000;
/// Size of ROM in bytes.
pub const ROM_SIZE: u32 = 0x0000_2000;
/// Base address of RAM: 128 KiB SPRAM: data, stack, model blob and activations; shared by the CPU and the conv engine's bus master.
pub const RAM_BASE: u32 = 0x0002_0000;
/// Size of RAM in bytes.
pub const RAM_SIZE: u32 = 0x0002_0000;
/// Base address of MMIO: Memory-mapped I/O (uncached region for cores with caches).
pub const MMIO_BASE: u32 = 0xF000_0000;
/// Size of MMIO in bytes.
pub const MMIO_SIZE: u32 = 0x0000_3000;

/// Register block SYS: SoC system registers: UART transmitter, simulation exit, cycle counter.
pub mod sys {
    /// Base address of the block.
    pub const BASE: u32 = 0xF000_0000;
    /// Size of the block's address window in bytes.
    pub const SIZE: u32 = 0x1000;
    /// `UART_DATA` (rw), byte offset from `BASE`: UART transmitter. Write: send the low byte (the bus stalls while the transmitter is busy). Read: status.
    pub const UART_DATA: u32 = 0x00;
    /// `UART_DATA.DATA` bit position (w): Byte to send.
    pub const UART_DATA_DATA_SHIFT: u32 = 0;
    /// `UART_DATA.DATA` mask (already shifted).
    pub const UART_DATA_DATA_MASK: u32 = 0x000000ff;
    /// `UART_DATA.BUSY` bit position (r): 1 while a byte is being sent.
    pub const UART_DATA_BUSY_SHIFT: u32 = 0;
    /// `UART_DATA.BUSY` mask (already shifted).
    pub const UART_DATA_BUSY_MASK: u32 = 0x00000001;
    /// `EXIT` (w), byte offset from `BASE`: Write to end the simulation with the written value as exit code (0 = pass); on the board it lights the green (0) or red LED.
    pub const EXIT: u32 = 0x04;
    /// `CYCLES` (r), byte offset from `BASE`: Free-running 32-bit cycle counter (wraps).
    pub const CYCLES: u32 = 0x08;
}

/// Register block CONV: NP conv engine: one valid, stride-1 conv layer with bias, requantisation, ReLU clamp and optional fused 2x2 max-pool, exactly as firmware::numerics::conv2d. Configuration registers ignore writes while STATUS.BUSY is set. Data arrays may have any byte alignment (4-byte alignment is recommended and is what the firmware uses).
pub mod conv {
    /// Base address of the block.
    pub const BASE: u32 = 0xF000_1000;
    /// Size of the block's address window in bytes.
    pub const SIZE: u32 = 0x1000;
    /// `CTRL` (w), byte offset from `BASE`: Control. Writing START while busy has no effect.
    pub const CTRL: u32 = 0x00;
    /// `CTRL.START` bit position (w): Write 1 to start a layer with the current configuration (clears DONE and ERR).
    pub const CTRL_START_SHIFT: u32 = 0;
    /// `CTRL.START` mask (already shifted).
    pub const CTRL_START_MASK: u32 = 0x00000001;
    /// `STATUS` (r), byte offset from `BASE`: Status.
    pub const STATUS: u32 = 0x04;
    /// `STATUS.BUSY` bit position (r): 1 from START until the last output byte is written.
    pub const STATUS_BUSY_SHIFT: u32 = 0;
    /// `STATUS.BUSY` mask (already shifted).
    pub const STATUS_BUSY_MASK: u32 = 0x00000001;
    /// `STATUS.DONE` bit position (r): Set when a layer finishes (or is rejected); cleared by START.
    pub const STATUS_DONE_SHIFT: u32 = 1;
    /// `STATUS.DONE` mask (already shifted).
    pub const STATUS_DONE_MASK: u32 = 0x00000002;
    /// `STATUS.ERR` bit position (r): Set with DONE when the last START was rejected: k = 0 or k > KMAX, cin, cout = 0, ih or iw < k, any dimension > DIM_MAX, or k*k*cin > WBUF_DEPTH. Nothing is read or written then.
    pub const STATUS_ERR_SHIFT: u32 = 2;
    /// `STATUS.ERR` mask (already shifted).
    pub const STATUS_ERR_MASK: u32 = 0x00000004;
    /// `IN_ADDR` (rw), byte offset from `BASE`: Byte address of the input activations, u8 [ih][iw][cin].
    pub const IN_ADDR: u32 = 0x08;
    /// `W_ADDR` (rw), byte offset from `BASE`: Byte address of the weights, i8 [cout][k][k][cin].
    pub const W_ADDR: u32 = 0x0c;
    /// `BIAS_ADDR` (rw), byte offset from `BASE`: Byte address of the biases, i32 little-endian [cout].
    pub const BIAS_ADDR: u32 = 0x10;
    /// `MULT_ADDR` (rw), byte offset from `BASE`: Byte address of the requantisation multipliers, u16 little-endian [cout].
    pub const MULT_ADDR: u32 = 0x14;
    /// `SHIFT_ADDR` (rw), byte offset from `BASE`: Byte address of the requantisation shifts, u8 [cout] (values outside 1..=47 are clamped into it, as numerics::scale does).
    pub const SHIFT_ADDR: u32 = 0x18;
    /// `OUT_ADDR` (rw), byte offset from `BASE`: Byte address of the output activations, u8 [oh][ow][cout] (written with byte strobes).
    pub const OUT_ADDR: u32 = 0x1c;
    /// `IH` (rw), byte offset from `BASE`: Input height.
    pub const IH: u32 = 0x20;
    /// `IH.VALUE` bit position (rw): 1..=DIM_MAX.
    pub const IH_VALUE_SHIFT: u32 = 0;
    /// `IH.VALUE` mask (already shifted).
    pub const IH_VALUE_MASK: u32 = 0x0000ffff;
    /// `IW` (rw), byte offset from `BASE`: Input width.
    pub const IW: u32 = 0x24;
    /// `IW.VALUE` bit position (rw): 1..=DIM_MAX.
    pub const IW_VALUE_SHIFT: u32 = 0;
    /// `IW.VALUE` mask (already shifted).
    pub const IW_VALUE_MASK: u32 = 0x0000ffff;
    /// `CIN` (rw), byte offset from `BASE`: Input channels.
    pub const CIN: u32 = 0x28;
    /// `CIN.VALUE` bit position (rw): 1..=DIM_MAX.
    pub const CIN_VALUE_SHIFT: u32 = 0;
    /// `CIN.VALUE` mask (already shifted).
    pub const CIN_VALUE_MASK: u32 = 0x0000ffff;
    /// `COUT` (rw), byte offset from `BASE`: Output channels.
    pub const COUT: u32 = 0x2c;
    /// `COUT.VALUE` bit position (rw): 1..=DIM_MAX.
    pub const COUT_VALUE_SHIFT: u32 = 0;
    /// `COUT.VALUE` mask (already shifted).
    pub const COUT_VALUE_MASK: u32 = 0x0000ffff;
    /// `K` (rw), byte offset from `BASE`: Square kernel size.
    pub const K: u32 = 0x30;
    /// `K.VALUE` bit position (rw): 1..=KMAX.
    pub const K_VALUE_SHIFT: u32 = 0;
    /// `K.VALUE` mask (already shifted).
    pub const K_VALUE_MASK: u32 = 0x0000000f;
    /// `FLAGS` (rw), byte offset from `BASE`: Layer options.
    pub const FLAGS: u32 = 0x34;
    /// `FLAGS.POOL` bit position (rw): 1: fused 2x2/2 max-pool (floor) after the ReLU clamp.
    pub const FLAGS_POOL_SHIFT: u32 = 0;
    /// `FLAGS.POOL` mask (already shifted).
    pub const FLAGS_POOL_MASK: u32 = 0x00000001;
    /// `CYCLES` (r), byte offset from `BASE`: Clock cycles from START to DONE of the last run (counts while busy).
    pub const CYCLES: u32 = 0x38;
    /// `HWCFG` (r), byte offset from `BASE`: Hardware configuration of this instance (may differ from the defaults above on bigger parts).
    pub const HWCFG: u32 = 0x3c;
    /// `HWCFG.LANES` bit position (r): Number of lanes.
    pub const HWCFG_LANES_SHIFT: u32 = 0;
    /// `HWCFG.LANES` mask (already shifted).
    pub const HWCFG_LANES_MASK: u32 = 0x000000ff;
    /// `HWCFG.KMAX` bit position (r): Largest kernel size.
    pub const HWCFG_KMAX_SHIFT: u32 = 8;
    /// `HWCFG.KMAX` mask (already shifted).
    pub const HWCFG_KMAX_MASK: u32 = 0x00000f00;
    /// `HWCFG.WBUF_LOG2` bit position (r): log2 of WBUF_DEPTH.
    pub const HWCFG_WBUF_LOG2_SHIFT: u32 = 12;
    /// `HWCFG.WBUF_LOG2` mask (already shifted).
    pub const HWCFG_WBUF_LOG2_MASK: u32 = 0x0001f000;
}

/// Register block PENGINE: Reserved for the P-layer (power-of-two dense) engine; no registers defined yet.
pub mod pengine {
    /// Base address of the block.
    pub const BASE: u32 = 0xF000_2000;
    /// Size of the block's address window in bytes.
    pub const SIZE: u32 = 0x1000;
}
