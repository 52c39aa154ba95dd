// Generated from rtl/regmap/accel.toml by `cargo run -p sim --bin regmap`; do not edit.
// Edit the TOML file and re-run the generator (`-- --check` verifies in CI).
// Hardware parameters, SoC memory map and register map of the cnnfpga accelerator.
`default_nettype none

package accel_pkg;

  // ---- hardware parameters ----
  // Output channels computed in parallel by the conv engine (one MAC per lane). 5 divides the paper CNN's 10 and 20 output channels.
  localparam int unsigned LANES = 5;
  // Largest supported square kernel size k (1..=KMAX).
  localparam int unsigned KMAX = 5;
  // Largest input height, width, input channels and output channels of one conv layer.
  localparam int unsigned DIM_MAX = 1023;
  // Depth in bytes of each lane's weight buffer: a layer needs k*k*cin <= WBUF_DEPTH.
  localparam int unsigned WBUF_DEPTH = 512;
  // Entries (32-bit words) of the engine's read-prefetch FIFO.
  localparam int unsigned FETCH_FIFO_DEPTH = 4;

  // ---- SoC memory map (byte addresses) ----
  // Boot ROM in EBR (code and read-only data), preloaded with the firmware image; writable in simulation.
  localparam logic [31:0] ROM_BASE = 32'h00000000;
  localparam logic [31:0] ROM_SIZE = 32'h00002000;
  // 128 KiB SPRAM: data, stack, model blob and activations; shared by the CPU and the conv engine's bus master.
  localparam logic [31:0] RAM_BASE = 32'h00020000;
  localparam logic [31:0] RAM_SIZE = 32'h00020000;
  // Memory-mapped I/O (uncached region for cores with caches).
  localparam logic [31:0] MMIO_BASE = 32'hf0000000;
  localparam logic [31:0] MMIO_SIZE = 32'h00003000;

  // ---- block SYS: SoC system registers: UART transmitter, simulation exit, cycle counter. ----
  localparam logic [31:0] SYS_BASE = 32'hf0000000;
  localparam int unsigned SYS_AW = 12;  // offset width in bits
  // UART_DATA (rw): UART transmitter. Write: send the low byte (the bus stalls while the transmitter is busy). Read: status.
  localparam logic [11:0] SYS_UART_DATA = 12'h000;
  //   DATA [7:0] (w): Byte to send.
  localparam int unsigned SYS_UART_DATA_DATA_LSB = 0;
  localparam int unsigned SYS_UART_DATA_DATA_WIDTH = 8;
  //   BUSY [0:0] (r): 1 while a byte is being sent.
  localparam int unsigned SYS_UART_DATA_BUSY_LSB = 0;
  localparam int unsigned SYS_UART_DATA_BUSY_WIDTH = 1;
  // EXIT (w): Write to end the simulation with the written value as exit code (0 = pass); on the board it lights the green (0) or red LED.
  localparam logic [11:0] SYS_EXIT = 12'h004;
  // CYCLES (r): Free-running 32-bit cycle counter (wraps).
  localparam logic [11:0] SYS_CYCLES = 12'h008;

  // ---- block CONV: NP conv engine: one valid, stride-1 conv layer with bias, requantisation, ReLU clamp and optional fused 2x2 max-pool, exactly as firmware::numerics::conv2d. Configuration registers ignore writes while STATUS.BUSY is set. Data arrays may have any byte alignment (4-byte alignment is recommended and is what the firmware uses). ----
  localparam logic [31:0] CONV_BASE = 32'hf0001000;
  localparam int unsigned CONV_AW = 12;  // offset width in bits
  // CTRL (w): Control. Writing START while busy has no effect.
  localparam logic [11:0] CONV_CTRL = 12'h000;
  //   START [0:0] (w): Write 1 to start a layer with the current configuration (clears DONE and ERR).
  localparam int unsigned CONV_CTRL_START_LSB = 0;
  localparam int unsigned CONV_CTRL_START_WIDTH = 1;
  // STATUS (r): Status.
  localparam logic [11:0] CONV_STATUS = 12'h004;
  //   BUSY [0:0] (r): 1 from START until the last output byte is written.
  localparam int unsigned CONV_STATUS_BUSY_LSB = 0;
  localparam int unsigned CONV_STATUS_BUSY_WIDTH = 1;
  //   DONE [1:1] (r): Set when a layer finishes (or is rejected); cleared by START.
  localparam int unsigned CONV_STATUS_DONE_LSB = 1;
  localparam int unsigned CONV_STATUS_DONE_WIDTH = 1;
  //   ERR [2:2] (r): Set with DONE when the last START was rejected: k = 0 or k > KMAX, cin, cout = 0, ih or iw < k, any dimension > DIM_MAX, or k*k*cin > WBUF_DEPTH. Nothing is read or written then.
  localparam int unsigned CONV_STATUS_ERR_LSB = 2;
  localparam int unsigned CONV_STATUS_ERR_WIDTH = 1;
  // IN_ADDR (rw): Byte address of the input activations, u8 [ih][iw][cin].
  localparam logic [11:0] CONV_IN_ADDR = 12'h008;
  // W_ADDR (rw): Byte address of the weights, i8 [cout][k][k][cin].
  localparam logic [11:0] CONV_W_ADDR = 12'h00c;
  // BIAS_ADDR (rw): Byte address of the biases, i32 little-endian [cout].
  localparam logic [11:0] CONV_BIAS_ADDR = 12'h010;
  // MULT_ADDR (rw): Byte address of the requantisation multipliers, u16 little-endian [cout].
  localparam logic [11:0] CONV_MULT_ADDR = 12'h014;
  // SHIFT_ADDR (rw): Byte address of the requantisation shifts, u8 [cout] (values outside 1..=47 are clamped into it, as numerics::scale does).
  localparam logic [11:0] CONV_SHIFT_ADDR = 12'h018;
  // OUT_ADDR (rw): Byte address of the output activations, u8 [oh][ow][cout] (written with byte strobes).
  localparam logic [11:0] CONV_OUT_ADDR = 12'h01c;
  // IH (rw): Input height.
  localparam logic [11:0] CONV_IH = 12'h020;
  //   VALUE [15:0] (rw): 1..=DIM_MAX.
  localparam int unsigned CONV_IH_VALUE_LSB = 0;
  localparam int unsigned CONV_IH_VALUE_WIDTH = 16;
  // IW (rw): Input width.
  localparam logic [11:0] CONV_IW = 12'h024;
  //   VALUE [15:0] (rw): 1..=DIM_MAX.
  localparam int unsigned CONV_IW_VALUE_LSB = 0;
  localparam int unsigned CONV_IW_VALUE_WIDTH = 16;
  // CIN (rw): Input channels.
  localparam logic [11:0] CONV_CIN = 12'h028;
  //   VALUE [15:0] (rw): 1..=DIM_MAX.
  localparam int unsigned CONV_CIN_VALUE_LSB = 0;
  localparam int unsigned CONV_CIN_VALUE_WIDTH = 16;
  // COUT (rw): Output channels.
  localparam logic [11:0] CONV_COUT = 12'h02c;
  //   VALUE [15:0] (rw): 1..=DIM_MAX.
  localparam int unsigned CONV_COUT_VALUE_LSB = 0;
  localparam int unsigned CONV_COUT_VALUE_WIDTH = 16;
  // K (rw): Square kernel size.
  localparam logic [11:0] CONV_K = 12'h030;
  //   VALUE [3:0] (rw): 1..=KMAX.
  localparam int unsigned CONV_K_VALUE_LSB = 0;
  localparam int unsigned CONV_K_VALUE_WIDTH = 4;
  // FLAGS (rw): Layer options.
  localparam logic [11:0] CONV_FLAGS = 12'h034;
  //   POOL [0:0] (rw): 1: fused 2x2/2 max-pool (floor) after the ReLU clamp.
  localparam int unsigned CONV_FLAGS_POOL_LSB = 0;
  localparam int unsigned CONV_FLAGS_POOL_WIDTH = 1;
  // CYCLES (r): Clock cycles from START to DONE of the last run (counts while busy).
  localparam logic [11:0] CONV_CYCLES = 12'h038;
  // HWCFG (r): Hardware configuration of this instance (may differ from the defaults above on bigger parts).
  localparam logic [11:0] CONV_HWCFG = 12'h03c;
  //   LANES [7:0] (r): Number of lanes.
  localparam int unsigned CONV_HWCFG_LANES_LSB = 0;
  localparam int unsigned CONV_HWCFG_LANES_WIDTH = 8;
  //   KMAX [11:8] (r): Largest kernel size.
  localparam int unsigned CONV_HWCFG_KMAX_LSB = 8;
  localparam int unsigned CONV_HWCFG_KMAX_WIDTH = 4;
  //   WBUF_LOG2 [16:12] (r): log2 of WBUF_DEPTH.
  localparam int unsigned CONV_HWCFG_WBUF_LOG2_LSB = 12;
  localparam int unsigned CONV_HWCFG_WBUF_LOG2_WIDTH = 5;

  // ---- block PENGINE: Reserved for the P-layer (power-of-two dense) engine; no registers defined yet. ----
  localparam logic [31:0] PENGINE_BASE = 32'hf0002000;
  localparam int unsigned PENGINE_AW = 12;  // offset width in bits

endpackage : accel_pkg

`default_nettype wire
