// Generated from rtl/regmap/accel.toml by `cargo xtask codegen`; do not edit.
// Edit the TOML file and re-run the generator (`--check` verifies in CI).
//! Register map, SoC memory map and hardware parameters of the cnnfpga accelerator,
//! generated from `rtl/regmap/accel.toml` (see `docs/registers.md`).

// ---- hardware parameters (RTL defaults; read CONV.HWCFG for the instance's values) ----

/// Output channels computed in parallel by the conv engine (one MAC per lane). 5 divides the paper CNN's 10 and 20 output channels.
pub const LANES: usize = 5;
/// Largest supported square kernel size k (1..=KMAX).
pub const KMAX: usize = 5;
/// Largest output height and width (after pooling), input channels and output channels of one conv layer (8-bit registers).
pub const DIM_MAX: usize = 255;
/// Depth in bytes of each lane's weight buffer: a layer needs k*k*cin <= WBUF_DEPTH.
pub const WBUF_DEPTH: usize = 512;
/// Width of the conv engine's byte addresses inside the SoC: offsets within the 128 KiB RAM (the registers drop RAM_BASE's bit 17, the SPRAM arbiter ignores it).
pub const CONV_ADDR_BITS: usize = 17;
/// Words (32-bit) of the P engine's input buffer (8 EBR): an input of N_IN <= 4 * PENGINE_BUF_WORDS - 3 bytes (any alignment) is copied into it at START.
pub const PENGINE_BUF_WORDS: usize = 1024;
/// Width of the engines' bus pointers inside the SoC (soc_core passes it to the P engine; the Verilated standalone P engine and rtl/synth_check.sh use it): RAM ends at RAM_BASE + RAM_SIZE = 0x0004_0000 (a test checks that it fits).
pub const ENGINE_ADDR_BITS: usize = 18;
/// Bytes per output channel in the conv engine's parameter table (CONV.PARAM_ADDR): the record below, written by firmware::accel::pack_conv_params and decoded by conv_engine (which checks this layout at elaboration).
pub const CONV_PARAM_BYTES: usize = 8;
/// Byte offset of the i32 LE bias in a conv parameter record.
pub const CONV_PARAM_BIAS_OFFSET: usize = 0;
/// Byte offset of the u16 LE requantisation multiplier in a conv parameter record.
pub const CONV_PARAM_MULT_OFFSET: usize = 4;
/// Byte offset of the u8 requantisation shift in a conv parameter record (the byte after it is unused and written 0).
pub const CONV_PARAM_SHIFT_OFFSET: usize = 6;
/// Conv engine lanes of the iCEBreaker build: five fit the UP5K next to SERV and the P engine (5,116 of 5,280 LCs with soc_flash, the 3-entry fetch FIFO, the boot ROM in EBR, soc_spram and the P engine's input buffer; YoWASP toolchain, docs/fpga.md), as they did next to PicoRV32 without its multiplier, counter CSRs and traps and without the P engine (5,016). Five divide the paper CNN's 10 and 20 output channels: conv1 in 2 lane groups, conv2 in 4.
pub const BOARD_CONV_LANES: usize = 5;
/// Conv engine fetch FIFO depth of the iCEBreaker build: 3 (90 LCs more than 2, paid for by soc_flash) takes every cycle a deeper FIFO gives inside the SoC (the shipped model on the 5-lane board: conv1 MAC utilisation 0.82 with 2, 0.84 with 3 or 4; docs/fpga.md).
pub const BOARD_FETCH_FIFO_DEPTH: usize = 3;
/// 1: the iCEBreaker build carries the P-layer engine: next to SERV and the 5-lane conv engine the SoC takes 5,116 of 5,280 LCs (docs/fpga.md). It does not fit next to PicoRV32 (5,016 LC without it, the engine ~1,140 with its input buffer).
pub const BOARD_ENABLE_PENGINE: usize = 1;
/// 1: the iCEBreaker build's PicoRV32 uses the single-cycle multiplier (DSPs) instead of the iterative one.
pub const BOARD_FAST_MUL: usize = 0;
/// BOARD_CPU value: PicoRV32 (pythondata-cpu-picorv32), shaped by BOARD_CPU_COUNTERS, BOARD_CPU_CATCH, BOARD_CPU_MUL and BOARD_FAST_MUL.
pub const CPU_PICORV32: usize = 0;
/// BOARD_CPU value: SERV (pythondata-cpu-serv, bit-serial RV32I without CSRs, register file in one EBR; soc_core's Wishbone bridge). It halts on any SYSTEM instruction (ecall, ebreak): the red LED, the harness's Outcome::Trap.
pub const CPU_SERV: usize = 1;
/// The iCEBreaker build's CPU: CPU_PICORV32 or CPU_SERV. SERV (since #13's second round): 364 LCs instead of PicoRV32's ~1,550, so the P engine fits next to the 5-lane conv engine; it runs the firmware ~10x slower per instruction (the model check at start-up, software-only runs; docs/fpga.md, SERV rows).
pub const BOARD_CPU: usize = 1;
/// 1: the board's PicoRV32 has the rdcycle/rdinstret counter CSRs (ENABLE_COUNTERS, 32-bit). 0 saves their LCs for a conv lane; the firmware times layers with SYS.CYCLES either way, and the simulation harness counts retired instructions itself.
pub const BOARD_CPU_COUNTERS: usize = 0;
/// 1: the board's PicoRV32 traps on misaligned accesses and illegal instructions (CATCH_MISALIGN, CATCH_ILLINSN). 0 saves their LCs for a conv lane: then only ebreak/ecall trap (the red LED, the harness's Outcome::Trap), and an illegal or misaligned instruction runs on with undefined results.
pub const BOARD_CPU_CATCH: usize = 0;
/// 1: the board's PicoRV32 has the iterative multiplier (ENABLE_MUL; BOARD_FAST_MUL = 1 takes the single-cycle one instead); 0: no multiplier and no PCPI logic, 428 LCs less (docs/fpga.md), which went to the fourth conv lane. The firmware is built for riscv32i either way (firmware/tests/target_build.rs rejects any M-extension instruction): its products are calls of firmware::softmul, and with the conv layers on the engine only the head layer and the P layer's requantisation multiply on the CPU (+32 k cycles per image of the shipped model).
pub const BOARD_CPU_MUL: usize = 0;
/// The iCEBreaker's oscillator (pin 35), the PLL's reference.
pub const OSC_HZ: usize = 12000000;
/// The SoC clock of the iCEBreaker build (at BOARD_PNR_SEED): SB_PLL40_PAD output OSC_HZ * (DIVF + 1) / ((DIVR + 1) * 2^DIVQ) (icepll -i 12 -o 21). cnnfpga fpga build requires nextpnr's Fmax to exceed it by 5 %; every images/s figure of the board uses it.
pub const BOARD_CLOCK_HZ: usize = 21000000;
/// nextpnr placement seed of the iCEBreaker build (cnnfpga fpga build --seed defaults to it): at 95-99 % LC nextpnr's Fmax for the same netlist moves by 10-15 % with seed and target; seed 4 meets BOARD_CLOCK_HZ + 5 % with the board as flashed (SERV + both engines, P engine input buffer: 22.51 MHz, icetime 21.79; docs/fpga.md). Find a new one after an RTL change if the build misses timing.
pub const BOARD_PNR_SEED: usize = 4;
/// SB_PLL40 reference divider (DIVR) for BOARD_CLOCK_HZ.
pub const BOARD_PLL_DIVR: usize = 0;
/// SB_PLL40 feedback divider (DIVF) for BOARD_CLOCK_HZ.
pub const BOARD_PLL_DIVF: usize = 55;
/// SB_PLL40 output divider (DIVQ, a power of two) for BOARD_CLOCK_HZ.
pub const BOARD_PLL_DIVQ: usize = 5;
/// SB_PLL40 loop filter range for the PFD frequency OSC_HZ / (DIVR + 1) (icepll).
pub const BOARD_PLL_FILTER_RANGE: usize = 1;
/// UART bit rate, both directions (the FT2232H's channel B). 230400: a byte every 910 cycles at 21.0 MHz. The board's SERV receives a request raw into the arena (~460 cycles per byte, firmware rx_burst) and parses it after the burst; PicoRV32's byte-at-a-time reader kept up to 345600 baud and lost bytes at 500000 (sim/tests/soc_uart.rs at each rate). 230400 halves the 115200 link's 1.07 s per 64x64x3 request.
pub const UART_BAUD: usize = 230400;
/// Clock cycles per UART bit on the board: round(BOARD_CLOCK_HZ / UART_BAUD) (a test checks it). The simulated board SoC uses the same divider.
pub const BOARD_UART_DIV: usize = 91;
/// Entries (32-bit words) of the engine's read-prefetch FIFO (the iCEBreaker build: BOARD_FETCH_FIFO_DEPTH).
pub const FETCH_FIFO_DEPTH: usize = 4;

// ---- SoC memory map ----

/// Base address of ROM: Boot ROM (64 words, an initialised memory in 2 EBR on the board; generated into rtl/gen/soc_boot_rom.sv): copies the firmware image from FLASH_FW to FW in RAM and jumps to it.
pub const ROM_BASE: u32 = 0x0000_0000;
/// Size of ROM in bytes.
pub const ROM_SIZE: u32 = 0x0000_0100;
/// Base address of RAM: 128 KiB SPRAM: firmware code and data, arena, model blob, input image, stack; shared by the CPU and the engines' bus masters (CPU first).
pub const RAM_BASE: u32 = 0x0002_0000;
/// Size of RAM in bytes.
pub const RAM_SIZE: u32 = 0x0002_0000;
/// Base address of FLASH: SPI flash, read-only memory-mapped window (rtl/soc/soc_flash.sv: single-SPI READ, 64 cycles per sequential word, 128 for the first). Writes are ignored.
pub const FLASH_BASE: u32 = 0x0100_0000;
/// Size of FLASH in bytes.
pub const FLASH_SIZE: u32 = 0x0100_0000;
/// Base address of MMIO: Memory-mapped I/O (uncached region for cores with caches).
pub const MMIO_BASE: u32 = 0xF000_0000;
/// Size of MMIO in bytes.
pub const MMIO_SIZE: u32 = 0x0000_3000;

// ---- layout areas inside the regions ----

/// Address of area FLASH_BITSTREAM (in FLASH): FPGA configuration (iCE40 UP5K bitstream, ~104 KB); the FPGA loads it itself at power-up.
pub const FLASH_BITSTREAM_ADDR: u32 = 0x0100_0000;
/// Offset of FLASH_BITSTREAM from FLASH_BASE.
pub const FLASH_BITSTREAM_OFFSET: u32 = 0x0000_0000;
/// Size of FLASH_BITSTREAM in bytes.
pub const FLASH_BITSTREAM_LEN: u32 = 0x0010_0000;
/// Address of area FLASH_FW (in FLASH): Firmware image: 16-byte header (u32 magic "CNFW", u32 length of the binary in bytes, u32 flags: bit 0 = software only, u32 0) then the binary (objcopy -O binary of the soc ELF, linked at FW_ADDR). The boot ROM copies it to FW_ADDR.
pub const FLASH_FW_ADDR: u32 = 0x0110_0000;
/// Offset of FLASH_FW from FLASH_BASE.
pub const FLASH_FW_OFFSET: u32 = 0x0010_0000;
/// Size of FLASH_FW in bytes.
pub const FLASH_FW_LEN: u32 = 0x0001_0000;
/// Address of area FLASH_MODEL (in FLASH): Model blob (docs/model-format.md); the firmware copies header.total_len bytes to MODEL_ADDR.
pub const FLASH_MODEL_ADDR: u32 = 0x0111_0000;
/// Offset of FLASH_MODEL from FLASH_BASE.
pub const FLASH_MODEL_OFFSET: u32 = 0x0011_0000;
/// Size of FLASH_MODEL in bytes.
pub const FLASH_MODEL_LEN: u32 = 0x0001_0000;
/// Address of area FLASH_INPUT (in FLASH): Input image, HWC u8 of the model's input shape; the firmware copies h*w*c bytes to INPUT_ADDR.
pub const FLASH_INPUT_ADDR: u32 = 0x0112_0000;
/// Offset of FLASH_INPUT from FLASH_BASE.
pub const FLASH_INPUT_OFFSET: u32 = 0x0012_0000;
/// Size of FLASH_INPUT in bytes.
pub const FLASH_INPUT_LEN: u32 = 0x0001_0000;
/// Address of area FW (in RAM): Firmware code, read-only data, data and bss (the boot ROM jumps to FW_ADDR). 38.5 KB since #13's third round (1 KB from MODEL) for the replay of a whole inference's engine runs; 37.5 KB in its second round (1 KB from ARENA, 0.5 KB from MODEL) for SERV's serve loop, the quarter-square table and the stack canary.
pub const FW_ADDR: u32 = 0x0002_0000;
/// Offset of FW from RAM_BASE.
pub const FW_OFFSET: u32 = 0x0000_0000;
/// Size of FW in bytes.
pub const FW_LEN: u32 = 0x0000_9A00;
/// Address of area ARENA (in RAM): Inference arena: the ping-pong activation buffers (firmware::runner::arena_bytes; 19,223 bytes for the paper CNN's 31x31x10 largest activation); in serve mode also the raw receive buffer of a request frame (up to 12,304 bytes for a 64x64x3 image) between inferences.
pub const ARENA_ADDR: u32 = 0x0002_9A00;
/// Offset of ARENA from RAM_BASE.
pub const ARENA_OFFSET: u32 = 0x0000_9A00;
/// Size of ARENA in bytes.
pub const ARENA_LEN: u32 = 0x0000_4C00;
/// Address of area MODEL (in RAM): Model blob (4-byte aligned; the engines read weights, biases and requantisation arrays in place).
pub const MODEL_ADDR: u32 = 0x0002_E600;
/// Offset of MODEL from RAM_BASE.
pub const MODEL_OFFSET: u32 = 0x0000_E600;
/// Size of MODEL in bytes.
pub const MODEL_LEN: u32 = 0x0000_AA00;
/// Address of area INPUT (in RAM): Input image, HWC u8 (64x64x3 = 12 KB fits).
pub const INPUT_ADDR: u32 = 0x0003_9000;
/// Offset of INPUT from RAM_BASE.
pub const INPUT_OFFSET: u32 = 0x0001_9000;
/// Size of INPUT in bytes.
pub const INPUT_LEN: u32 = 0x0000_3000;
/// Address of area STACK (in RAM): Stack, growing down from the end of RAM. 16 KB since #13's second round (4 KB from MODEL): with 12 KB the serve mode's first, recording run reached into INPUT and changed the last pixels of a 64x64x3 image; the firmware now checks a canary at the stack's bottom after every run.
pub const STACK_ADDR: u32 = 0x0003_C000;
/// Offset of STACK from RAM_BASE.
pub const STACK_OFFSET: u32 = 0x0001_C000;
/// Size of STACK in bytes.
pub const STACK_LEN: u32 = 0x0000_4000;

/// Register block SYS: SoC system registers: UART transmitter and receiver, simulation exit, cycle counter, engine wait.
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
    /// `UART_RX` (r), byte offset from `BASE`: UART receiver (soc_uart_rx, 8N1 at UART_BAUD). Read: the holding register and its flags; a read clears VALID, OVERRUN and FERR (the next byte can then arrive).
    pub const UART_RX: u32 = 0x10;
    /// `UART_RX.DATA` bit position (r): The received byte (meaningful while VALID).
    pub const UART_RX_DATA_SHIFT: u32 = 0;
    /// `UART_RX.DATA` mask (already shifted).
    pub const UART_RX_DATA_MASK: u32 = 0x000000ff;
    /// `UART_RX.VALID` bit position (r): 1: DATA holds a byte not read before.
    pub const UART_RX_VALID_SHIFT: u32 = 8;
    /// `UART_RX.VALID` mask (already shifted).
    pub const UART_RX_VALID_MASK: u32 = 0x00000100;
    /// `UART_RX.OVERRUN` bit position (r): 1: a byte arrived while the previous one was unread and was dropped.
    pub const UART_RX_OVERRUN_SHIFT: u32 = 9;
    /// `UART_RX.OVERRUN` mask (already shifted).
    pub const UART_RX_OVERRUN_MASK: u32 = 0x00000200;
    /// `UART_RX.FERR` bit position (r): 1: a byte's stop bit was 0 (framing error); the byte was dropped.
    pub const UART_RX_FERR_SHIFT: u32 = 10;
    /// `UART_RX.FERR` mask (already shifted).
    pub const UART_RX_FERR_MASK: u32 = 0x00000400;
    /// `ENGINE_WAIT` (r), byte offset from `BASE`: Read: the bus stalls until no engine is busy, then returns the engines present. The CPU then fetches no instructions, so an engine gets the whole RAM bandwidth (a polling loop running from RAM would take about half of it).
    pub const ENGINE_WAIT: u32 = 0x0c;
    /// `ENGINE_WAIT.CONV` bit position (r): 1: the conv engine is present (soc_core EnableConv).
    pub const ENGINE_WAIT_CONV_SHIFT: u32 = 0;
    /// `ENGINE_WAIT.CONV` mask (already shifted).
    pub const ENGINE_WAIT_CONV_MASK: u32 = 0x00000001;
    /// `ENGINE_WAIT.PENGINE` bit position (r): 1: the P-layer engine is present (soc_core EnablePengine).
    pub const ENGINE_WAIT_PENGINE_SHIFT: u32 = 1;
    /// `ENGINE_WAIT.PENGINE` mask (already shifted).
    pub const ENGINE_WAIT_PENGINE_MASK: u32 = 0x00000002;
}

/// Register block CONV: NP conv engine: one valid, stride-1 conv layer with bias, requantisation, ReLU clamp and optional fused 2x2 max-pool, exactly as firmware::numerics::conv2d. Configuration registers are write-only (they read 0; values wider than a field are truncated) and ignore writes while STATUS.BUSY is set. Data arrays may have any byte alignment (4-byte alignment is recommended and is what the firmware uses).
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
    /// `STATUS.ERR` bit position (r): Set with DONE when the last START was rejected: K = 0 or K > KMAX, CIN, COUT, OH, OW, KC or KKC = 0, or KKC > WBUF_DEPTH. Nothing is read or written then. The engine does not check that the registers are consistent with each other (the driver derives them: firmware::accel::conv_shape_regs).
    pub const STATUS_ERR_SHIFT: u32 = 2;
    /// `STATUS.ERR` mask (already shifted).
    pub const STATUS_ERR_MASK: u32 = 0x00000004;
    /// `IN_ADDR` (w), byte offset from `BASE`: Byte address of the input activations, u8, row-major ih x iw x cin (channels last).
    pub const IN_ADDR: u32 = 0x08;
    /// `W_ADDR` (w), byte offset from `BASE`: Byte address of the weights, i8, row-major cout x k x k x cin.
    pub const W_ADDR: u32 = 0x0c;
    /// `PARAM_ADDR` (w), byte offset from `BASE`: Byte address of the per-output-channel parameters, 8 bytes each: i32 LE bias, u16 LE requantisation multiplier, u8 shift (values outside 1..=47 are clamped into it, as numerics::scale does), one unused byte. firmware::accel::pack_conv_params builds it.
    pub const PARAM_ADDR: u32 = 0x10;
    /// `OUT_ADDR` (w), byte offset from `BASE`: Byte address of the output activations, u8, row-major oh x ow x cout (written with byte strobes).
    pub const OUT_ADDR: u32 = 0x1c;
    /// `OH` (w), byte offset from `BASE`: Output height after pooling: ih-k+1, halved (floor) with POOL.
    pub const OH: u32 = 0x20;
    /// `OH.VALUE` bit position (w): 1..=DIM_MAX (0 is rejected).
    pub const OH_VALUE_SHIFT: u32 = 0;
    /// `OH.VALUE` mask (already shifted).
    pub const OH_VALUE_MASK: u32 = 0x000000ff;
    /// `OW` (w), byte offset from `BASE`: Output width after pooling: iw-k+1, halved (floor) with POOL.
    pub const OW: u32 = 0x24;
    /// `OW.VALUE` bit position (w): 1..=DIM_MAX (0 is rejected).
    pub const OW_VALUE_SHIFT: u32 = 0;
    /// `OW.VALUE` mask (already shifted).
    pub const OW_VALUE_MASK: u32 = 0x000000ff;
    /// `CIN` (w), byte offset from `BASE`: Input channels.
    pub const CIN: u32 = 0x28;
    /// `CIN.VALUE` bit position (w): 1..=DIM_MAX.
    pub const CIN_VALUE_SHIFT: u32 = 0;
    /// `CIN.VALUE` mask (already shifted).
    pub const CIN_VALUE_MASK: u32 = 0x000000ff;
    /// `COUT` (w), byte offset from `BASE`: Output channels.
    pub const COUT: u32 = 0x2c;
    /// `COUT.VALUE` bit position (w): 1..=DIM_MAX.
    pub const COUT_VALUE_SHIFT: u32 = 0;
    /// `COUT.VALUE` mask (already shifted).
    pub const COUT_VALUE_MASK: u32 = 0x000000ff;
    /// `K` (w), byte offset from `BASE`: Square kernel size.
    pub const K: u32 = 0x30;
    /// `K.VALUE` bit position (w): 1..=KMAX.
    pub const K_VALUE_SHIFT: u32 = 0;
    /// `K.VALUE` mask (already shifted).
    pub const K_VALUE_MASK: u32 = 0x0000000f;
    /// `FLAGS` (w), byte offset from `BASE`: Layer options.
    pub const FLAGS: u32 = 0x34;
    /// `FLAGS.POOL` bit position (w): 1: fused 2x2/2 max-pool (floor) after the ReLU clamp.
    pub const FLAGS_POOL_SHIFT: u32 = 0;
    /// `FLAGS.POOL` mask (already shifted).
    pub const FLAGS_POOL_MASK: u32 = 0x00000001;
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
    /// `ROW_STRIDE` (w), byte offset from `BASE`: Bytes per input row: iw*cin.
    pub const ROW_STRIDE: u32 = 0x40;
    /// `KC` (w), byte offset from `BASE`: Bytes of one kernel row of a window: k*cin.
    pub const KC: u32 = 0x44;
    /// `KC.VALUE` bit position (w): 1..=WBUF_DEPTH.
    pub const KC_VALUE_SHIFT: u32 = 0;
    /// `KC.VALUE` mask (already shifted).
    pub const KC_VALUE_MASK: u32 = 0x000003ff;
    /// `KKC` (w), byte offset from `BASE`: Weight bytes per output channel: k*k*cin.
    pub const KKC: u32 = 0x48;
    /// `KKC.VALUE` bit position (w): 1..=WBUF_DEPTH.
    pub const KKC_VALUE_SHIFT: u32 = 0;
    /// `KKC.VALUE` mask (already shifted).
    pub const KKC_VALUE_MASK: u32 = 0x000003ff;
}

/// Register block PENGINE: P-layer engine: one pruned power-of-two dense layer, exactly firmware::numerics::dense_p_acc then requantize (or raw i32 accumulators when FINAL). Weight-driven: walks each row's entry bytes. Configuration writes are ignored while STATUS.BUSY is set. All pointers must point into RAM. The input must not change while BUSY (the engine keeps a copy of it).
pub mod pengine {
    /// Base address of the block.
    pub const BASE: u32 = 0xF000_2000;
    /// Size of the block's address window in bytes.
    pub const SIZE: u32 = 0x1000;
    /// `CTRL` (w), byte offset from `BASE`: Control.
    pub const CTRL: u32 = 0x00;
    /// `CTRL.START` bit position (w): Write 1 to run the layer (clears DONE, ERR and CYCLES); ignored while busy.
    pub const CTRL_START_SHIFT: u32 = 0;
    /// `CTRL.START` mask (already shifted).
    pub const CTRL_START_MASK: u32 = 0x00000001;
    /// `STATUS` (r), byte offset from `BASE`: Status.
    pub const STATUS: u32 = 0x04;
    /// `STATUS.BUSY` bit position (r): 1 from START until the last output is written.
    pub const STATUS_BUSY_SHIFT: u32 = 0;
    /// `STATUS.BUSY` mask (already shifted).
    pub const STATUS_BUSY_MASK: u32 = 0x00000001;
    /// `STATUS.DONE` bit position (r): Set when the layer finishes (at once when N_OUT = 0); cleared by START.
    pub const STATUS_DONE_SHIFT: u32 = 1;
    /// `STATUS.DONE` mask (already shifted).
    pub const STATUS_DONE_MASK: u32 = 0x00000002;
    /// `STATUS.ERR` bit position (r): A non-zero entry's input index was >= N_IN: the term was skipped (nothing read out of range).
    pub const STATUS_ERR_SHIFT: u32 = 2;
    /// `STATUS.ERR` mask (already shifted).
    pub const STATUS_ERR_MASK: u32 = 0x00000004;
    /// `CFG` (rw), byte offset from `BASE`: Layer options.
    pub const CFG: u32 = 0x08;
    /// `CFG.BITS` bit position (rw): Code width of the entry bytes, 2..=7 (reset 4).
    pub const CFG_BITS_SHIFT: u32 = 0;
    /// `CFG.BITS` mask (already shifted).
    pub const CFG_BITS_MASK: u32 = 0x00000007;
    /// `CFG.FINAL` bit position (rw): 1: write i32 LE accumulators (logits) instead of requantised u8.
    pub const CFG_FINAL_SHIFT: u32 = 8;
    /// `CFG.FINAL` mask (already shifted).
    pub const CFG_FINAL_MASK: u32 = 0x00000100;
    /// `N_OUT` (rw), byte offset from `BASE`: Number of rows (outputs).
    pub const N_OUT: u32 = 0x0c;
    /// `N_OUT.VALUE` bit position (rw): 0 finishes at once.
    pub const N_OUT_VALUE_SHIFT: u32 = 0;
    /// `N_OUT.VALUE` mask (already shifted).
    pub const N_OUT_VALUE_MASK: u32 = 0x0000ffff;
    /// `N_IN` (rw), byte offset from `BASE`: Input length (bounds check).
    pub const N_IN: u32 = 0x10;
    /// `N_IN.VALUE` bit position (rw): Input vector length in bytes. Up to 4 * PENGINE_BUF_WORDS - 3 (4093): START first copies the input into the engine's buffer (one bus read per word) and the row walk reads it from there; larger inputs are read into it one word per activation (slow).
    pub const N_IN_VALUE_SHIFT: u32 = 0;
    /// `N_IN.VALUE` mask (already shifted).
    pub const N_IN_VALUE_MASK: u32 = 0x0000ffff;
    /// `IN_ADDR` (w), byte offset from `BASE`: Byte address of the input activations, n_in u8 values, any alignment.
    pub const IN_ADDR: u32 = 0x14;
    /// `ENT_ADDR` (w), byte offset from `BASE`: Byte address of the entry bytes [skip | sign | magnitude], all rows back to back, any alignment.
    pub const ENT_ADDR: u32 = 0x18;
    /// `LEN_ADDR` (w), byte offset from `BASE`: Byte address of the row lengths (entry counts), n_out u16 LE values, 2-byte aligned.
    pub const LEN_ADDR: u32 = 0x1c;
    /// `BIAS_ADDR` (w), byte offset from `BASE`: Byte address of the biases, n_out i32 LE values, 4-byte aligned.
    pub const BIAS_ADDR: u32 = 0x20;
    /// `MULT_ADDR` (w), byte offset from `BASE`: Byte address of multiplier 0, u16 LE; multiplier o is at MULT_ADDR + (o << RQ_STRIDE.M_LG); 2-byte aligned.
    pub const MULT_ADDR: u32 = 0x24;
    /// `SHIFT_ADDR` (w), byte offset from `BASE`: Byte address of shift 0, u8; shift o is at SHIFT_ADDR + (o << RQ_STRIDE.SH_LG). Values outside 1..=47 are clamped into it, as numerics::scale does.
    pub const SHIFT_ADDR: u32 = 0x28;
    /// `OUT_ADDR` (w), byte offset from `BASE`: Byte address of the outputs: n_out u8 values (byte writes), or n_out i32 LE values (4-byte aligned) when FINAL. Must not overlap the input.
    pub const OUT_ADDR: u32 = 0x2c;
    /// `RQ_STRIDE` (rw), byte offset from `BASE`: log2 strides of the requantisation arrays (0..=2): packed arrays are M_LG = 1, SH_LG = 0 (reset); {m: u16, shift: u8, pad} records are MULT_ADDR = rec, SHIFT_ADDR = rec + 2, M_LG = SH_LG = 2.
    pub const RQ_STRIDE: u32 = 0x30;
    /// `RQ_STRIDE.M_LG` bit position (rw): log2 of the multiplier stride in bytes.
    pub const RQ_STRIDE_M_LG_SHIFT: u32 = 0;
    /// `RQ_STRIDE.M_LG` mask (already shifted).
    pub const RQ_STRIDE_M_LG_MASK: u32 = 0x00000003;
    /// `RQ_STRIDE.SH_LG` bit position (rw): log2 of the shift stride in bytes.
    pub const RQ_STRIDE_SH_LG_SHIFT: u32 = 8;
    /// `RQ_STRIDE.SH_LG` mask (already shifted).
    pub const RQ_STRIDE_SH_LG_MASK: u32 = 0x00000300;
    /// `CYCLES` (r), byte offset from `BASE`: Clock cycles from START to DONE of the last run.
    pub const CYCLES: u32 = 0x34;
}
