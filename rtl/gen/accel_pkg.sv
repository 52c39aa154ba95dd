// Generated from rtl/regmap/accel.toml by `cargo xtask codegen`; do not edit.
// Edit the TOML file and re-run the generator (`--check` verifies in CI).
// Hardware parameters, SoC memory map and register map of the cnnfpga accelerator.
`default_nettype none

package accel_pkg;

  // ---- hardware parameters ----
  // Output channels computed in parallel by the conv engine (one MAC per lane). 5 divides the paper CNN's 10 and 20 output channels.
  localparam int unsigned LANES = 5;
  // Largest supported square kernel size k (1..=KMAX).
  localparam int unsigned KMAX = 5;
  // Largest output height and width (after pooling), input channels and output channels of one conv layer (8-bit registers).
  localparam int unsigned DIM_MAX = 255;
  // Depth in bytes of each lane's weight buffer: a layer needs k*k*cin <= WBUF_DEPTH.
  localparam int unsigned WBUF_DEPTH = 512;
  // Width of the conv engine's byte addresses inside the SoC: offsets within the 128 KiB RAM (the registers drop RAM_BASE's bit 17, the SPRAM arbiter ignores it).
  localparam int unsigned CONV_ADDR_BITS = 17;
  // Words (32-bit) of the P engine's input buffer (8 EBR): an input of N_IN <= 4 * PENGINE_BUF_WORDS - 3 bytes (any alignment) is copied into it at START.
  localparam int unsigned PENGINE_BUF_WORDS = 1024;
  // Width of the engines' bus pointers inside the SoC (soc_core passes it to the P engine; the Verilated standalone P engine and rtl/synth_check.sh use it): RAM ends at RAM_BASE + RAM_SIZE = 0x0004_0000 (a test checks that it fits).
  localparam int unsigned ENGINE_ADDR_BITS = 18;
  // Bytes per output channel in the conv engine's parameter table (CONV.PARAM_ADDR): the record below, written by firmware::accel::pack_conv_params and decoded by conv_engine (which checks this layout at elaboration).
  localparam int unsigned CONV_PARAM_BYTES = 8;
  // Byte offset of the i32 LE bias in a conv parameter record.
  localparam int unsigned CONV_PARAM_BIAS_OFFSET = 0;
  // Byte offset of the u16 LE requantisation multiplier in a conv parameter record.
  localparam int unsigned CONV_PARAM_MULT_OFFSET = 4;
  // Byte offset of the u8 requantisation shift in a conv parameter record (the byte after it is unused and written 0).
  localparam int unsigned CONV_PARAM_SHIFT_OFFSET = 6;
  // Conv engine lanes of the iCEBreaker build: five fit the UP5K next to SERV and the P engine (5,116 of 5,280 LCs with soc_flash, the 3-entry fetch FIFO, the boot ROM in EBR, soc_spram and the P engine's input buffer; YoWASP toolchain, docs/fpga.md), as they did next to PicoRV32 without its multiplier, counter CSRs and traps and without the P engine (5,016). Five divide the paper CNN's 10 and 20 output channels: conv1 in 2 lane groups, conv2 in 4.
  localparam int unsigned BOARD_CONV_LANES = 5;
  // Conv engine fetch FIFO depth of the iCEBreaker build: 3 (90 LCs more than 2, paid for by soc_flash) takes every cycle a deeper FIFO gives inside the SoC (the shipped model on the 5-lane board: conv1 MAC utilisation 0.82 with 2, 0.84 with 3 or 4; docs/fpga.md).
  localparam int unsigned BOARD_FETCH_FIFO_DEPTH = 3;
  // 1: the iCEBreaker build carries the P-layer engine: next to SERV and the 5-lane conv engine the SoC takes 5,116 of 5,280 LCs (docs/fpga.md). It does not fit next to PicoRV32 (5,016 LC without it, the engine ~1,140 with its input buffer).
  localparam int unsigned BOARD_ENABLE_PENGINE = 1;
  // 1: the iCEBreaker build's PicoRV32 uses the single-cycle multiplier (DSPs) instead of the iterative one.
  localparam int unsigned BOARD_FAST_MUL = 0;
  // BOARD_CPU value: PicoRV32 (pythondata-cpu-picorv32), shaped by BOARD_CPU_COUNTERS, BOARD_CPU_CATCH, BOARD_CPU_MUL and BOARD_FAST_MUL.
  localparam int unsigned CPU_PICORV32 = 0;
  // BOARD_CPU value: SERV (pythondata-cpu-serv, bit-serial RV32I without CSRs, register file in one EBR; soc_core's Wishbone bridge). It halts on any SYSTEM instruction (ecall, ebreak): the red LED, the harness's Outcome::Trap.
  localparam int unsigned CPU_SERV = 1;
  // The iCEBreaker build's CPU: CPU_PICORV32 or CPU_SERV. SERV (since #13's second round): 364 LCs instead of PicoRV32's ~1,550, so the P engine fits next to the 5-lane conv engine; it runs the firmware ~10x slower per instruction (the model check at start-up, software-only runs; docs/fpga.md, SERV rows).
  localparam int unsigned BOARD_CPU = 1;
  // 1: the board's PicoRV32 has the rdcycle/rdinstret counter CSRs (ENABLE_COUNTERS, 32-bit). 0 saves their LCs for a conv lane; the firmware times layers with SYS.CYCLES either way, and the simulation harness counts retired instructions itself.
  localparam int unsigned BOARD_CPU_COUNTERS = 0;
  // 1: the board's PicoRV32 traps on misaligned accesses and illegal instructions (CATCH_MISALIGN, CATCH_ILLINSN). 0 saves their LCs for a conv lane: then only ebreak/ecall trap (the red LED, the harness's Outcome::Trap), and an illegal or misaligned instruction runs on with undefined results.
  localparam int unsigned BOARD_CPU_CATCH = 0;
  // 1: the board's PicoRV32 has the iterative multiplier (ENABLE_MUL; BOARD_FAST_MUL = 1 takes the single-cycle one instead); 0: no multiplier and no PCPI logic, 428 LCs less (docs/fpga.md), which went to the fourth conv lane. The firmware is built for riscv32i either way (firmware/tests/target_build.rs rejects any M-extension instruction): its products are calls of firmware::softmul, and with the conv layers on the engine only the head layer and the P layer's requantisation multiply on the CPU (+32 k cycles per image of the shipped model).
  localparam int unsigned BOARD_CPU_MUL = 0;
  // The iCEBreaker's oscillator (pin 35), the PLL's reference.
  localparam int unsigned OSC_HZ = 12000000;
  // The SoC clock of the iCEBreaker build (at BOARD_PNR_SEED): SB_PLL40_PAD output OSC_HZ * (DIVF + 1) / ((DIVR + 1) * 2^DIVQ) (icepll -i 12 -o 21). cnnfpga fpga build requires nextpnr's Fmax to exceed it by 5 %; every images/s figure of the board uses it.
  localparam int unsigned BOARD_CLOCK_HZ = 21000000;
  // nextpnr placement seed of the iCEBreaker build (cnnfpga fpga build --seed defaults to it): at 95-99 % LC nextpnr's Fmax for the same netlist moves by 10-15 % with seed and target; seed 4 meets BOARD_CLOCK_HZ + 5 % with the board as flashed (SERV + both engines, P engine input buffer: 22.51 MHz, icetime 21.79; docs/fpga.md). Find a new one after an RTL change if the build misses timing.
  localparam int unsigned BOARD_PNR_SEED = 4;
  // SB_PLL40 reference divider (DIVR) for BOARD_CLOCK_HZ.
  localparam int unsigned BOARD_PLL_DIVR = 0;
  // SB_PLL40 feedback divider (DIVF) for BOARD_CLOCK_HZ.
  localparam int unsigned BOARD_PLL_DIVF = 55;
  // SB_PLL40 output divider (DIVQ, a power of two) for BOARD_CLOCK_HZ.
  localparam int unsigned BOARD_PLL_DIVQ = 5;
  // SB_PLL40 loop filter range for the PFD frequency OSC_HZ / (DIVR + 1) (icepll).
  localparam int unsigned BOARD_PLL_FILTER_RANGE = 1;
  // UART bit rate, both directions (the FT2232H's channel B). 230400: a byte every 910 cycles at 21.0 MHz. The board's SERV receives a request raw into the arena (~460 cycles per byte, firmware rx_burst) and parses it after the burst; PicoRV32's byte-at-a-time reader kept up to 345600 baud and lost bytes at 500000 (sim/tests/soc_uart.rs at each rate). 230400 halves the 115200 link's 1.07 s per 64x64x3 request.
  localparam int unsigned UART_BAUD = 230400;
  // Clock cycles per UART bit on the board: round(BOARD_CLOCK_HZ / UART_BAUD) (a test checks it). The simulated board SoC uses the same divider.
  localparam int unsigned BOARD_UART_DIV = 91;
  // Entries (32-bit words) of the engine's read-prefetch FIFO (the iCEBreaker build: BOARD_FETCH_FIFO_DEPTH).
  localparam int unsigned FETCH_FIFO_DEPTH = 4;

  // ---- SoC memory map (byte addresses) ----
  // Boot ROM (64 words, an initialised memory in 2 EBR on the board; generated into rtl/gen/soc_boot_rom.sv): copies the firmware image from FLASH_FW to FW in RAM and jumps to it.
  localparam logic [31:0] ROM_BASE = 32'h00000000;
  localparam logic [31:0] ROM_SIZE = 32'h00000100;
  // 128 KiB SPRAM: firmware code and data, arena, model blob, input image, stack; shared by the CPU and the engines' bus masters (CPU first).
  localparam logic [31:0] RAM_BASE = 32'h00020000;
  localparam logic [31:0] RAM_SIZE = 32'h00020000;
  // SPI flash, read-only memory-mapped window (rtl/soc/soc_flash.sv: single-SPI READ, 64 cycles per sequential word, 128 for the first). Writes are ignored.
  localparam logic [31:0] FLASH_BASE = 32'h01000000;
  localparam logic [31:0] FLASH_SIZE = 32'h01000000;
  // Memory-mapped I/O (uncached region for cores with caches).
  localparam logic [31:0] MMIO_BASE = 32'hf0000000;
  localparam logic [31:0] MMIO_SIZE = 32'h00003000;

  // ---- layout areas (ADDR absolute, OFFSET from the region base, LEN bytes) ----
  // FLASH_BITSTREAM (in FLASH): FPGA configuration (iCE40 UP5K bitstream, ~104 KB); the FPGA loads it itself at power-up.
  localparam logic [31:0] FLASH_BITSTREAM_ADDR = 32'h01000000;
  localparam logic [31:0] FLASH_BITSTREAM_OFFSET = 32'h00000000;
  localparam logic [31:0] FLASH_BITSTREAM_LEN = 32'h00100000;
  // FLASH_FW (in FLASH): Firmware image: 16-byte header (u32 magic "CNFW", u32 length of the binary in bytes, u32 flags: bit 0 = software only, u32 0) then the binary (objcopy -O binary of the soc ELF, linked at FW_ADDR). The boot ROM copies it to FW_ADDR.
  localparam logic [31:0] FLASH_FW_ADDR = 32'h01100000;
  localparam logic [31:0] FLASH_FW_OFFSET = 32'h00100000;
  localparam logic [31:0] FLASH_FW_LEN = 32'h00010000;
  // FLASH_MODEL (in FLASH): Model blob (docs/model-format.md); the firmware copies header.total_len bytes to MODEL_ADDR.
  localparam logic [31:0] FLASH_MODEL_ADDR = 32'h01110000;
  localparam logic [31:0] FLASH_MODEL_OFFSET = 32'h00110000;
  localparam logic [31:0] FLASH_MODEL_LEN = 32'h00010000;
  // FLASH_INPUT (in FLASH): Input image, HWC u8 of the model's input shape; the firmware copies h*w*c bytes to INPUT_ADDR.
  localparam logic [31:0] FLASH_INPUT_ADDR = 32'h01120000;
  localparam logic [31:0] FLASH_INPUT_OFFSET = 32'h00120000;
  localparam logic [31:0] FLASH_INPUT_LEN = 32'h00010000;
  // FW (in RAM): Firmware code, read-only data, data and bss (the boot ROM jumps to FW_ADDR). 38.5 KB since #13's third round (1 KB from MODEL) for the replay of a whole inference's engine runs; 37.5 KB in its second round (1 KB from ARENA, 0.5 KB from MODEL) for SERV's serve loop, the quarter-square table and the stack canary.
  localparam logic [31:0] FW_ADDR = 32'h00020000;
  localparam logic [31:0] FW_OFFSET = 32'h00000000;
  localparam logic [31:0] FW_LEN = 32'h00009a00;
  // ARENA (in RAM): Inference arena: the ping-pong activation buffers (firmware::runner::arena_bytes; 19,223 bytes for the paper CNN's 31x31x10 largest activation); in serve mode also the raw receive buffer of a request frame (up to 12,304 bytes for a 64x64x3 image) between inferences.
  localparam logic [31:0] ARENA_ADDR = 32'h00029a00;
  localparam logic [31:0] ARENA_OFFSET = 32'h00009a00;
  localparam logic [31:0] ARENA_LEN = 32'h00004c00;
  // MODEL (in RAM): Model blob (4-byte aligned; the engines read weights, biases and requantisation arrays in place).
  localparam logic [31:0] MODEL_ADDR = 32'h0002e600;
  localparam logic [31:0] MODEL_OFFSET = 32'h0000e600;
  localparam logic [31:0] MODEL_LEN = 32'h0000aa00;
  // INPUT (in RAM): Input image, HWC u8 (64x64x3 = 12 KB fits).
  localparam logic [31:0] INPUT_ADDR = 32'h00039000;
  localparam logic [31:0] INPUT_OFFSET = 32'h00019000;
  localparam logic [31:0] INPUT_LEN = 32'h00003000;
  // STACK (in RAM): Stack, growing down from the end of RAM. 16 KB since #13's second round (4 KB from MODEL): with 12 KB the serve mode's first, recording run reached into INPUT and changed the last pixels of a 64x64x3 image; the firmware now checks a canary at the stack's bottom after every run.
  localparam logic [31:0] STACK_ADDR = 32'h0003c000;
  localparam logic [31:0] STACK_OFFSET = 32'h0001c000;
  localparam logic [31:0] STACK_LEN = 32'h00004000;

  // ---- block SYS: SoC system registers: UART transmitter and receiver, simulation exit, cycle counter, engine wait. ----
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
  // UART_RX (r): UART receiver (soc_uart_rx, 8N1 at UART_BAUD). Read: the holding register and its flags; a read clears VALID, OVERRUN and FERR (the next byte can then arrive).
  localparam logic [11:0] SYS_UART_RX = 12'h010;
  //   DATA [7:0] (r): The received byte (meaningful while VALID).
  localparam int unsigned SYS_UART_RX_DATA_LSB = 0;
  localparam int unsigned SYS_UART_RX_DATA_WIDTH = 8;
  //   VALID [8:8] (r): 1: DATA holds a byte not read before.
  localparam int unsigned SYS_UART_RX_VALID_LSB = 8;
  localparam int unsigned SYS_UART_RX_VALID_WIDTH = 1;
  //   OVERRUN [9:9] (r): 1: a byte arrived while the previous one was unread and was dropped.
  localparam int unsigned SYS_UART_RX_OVERRUN_LSB = 9;
  localparam int unsigned SYS_UART_RX_OVERRUN_WIDTH = 1;
  //   FERR [10:10] (r): 1: a byte's stop bit was 0 (framing error); the byte was dropped.
  localparam int unsigned SYS_UART_RX_FERR_LSB = 10;
  localparam int unsigned SYS_UART_RX_FERR_WIDTH = 1;
  // ENGINE_WAIT (r): Read: the bus stalls until no engine is busy, then returns the engines present. The CPU then fetches no instructions, so an engine gets the whole RAM bandwidth (a polling loop running from RAM would take about half of it).
  localparam logic [11:0] SYS_ENGINE_WAIT = 12'h00c;
  //   CONV [0:0] (r): 1: the conv engine is present (soc_core EnableConv).
  localparam int unsigned SYS_ENGINE_WAIT_CONV_LSB = 0;
  localparam int unsigned SYS_ENGINE_WAIT_CONV_WIDTH = 1;
  //   PENGINE [1:1] (r): 1: the P-layer engine is present (soc_core EnablePengine).
  localparam int unsigned SYS_ENGINE_WAIT_PENGINE_LSB = 1;
  localparam int unsigned SYS_ENGINE_WAIT_PENGINE_WIDTH = 1;

  // ---- block CONV: NP conv engine: one valid, stride-1 conv layer with bias, requantisation, ReLU clamp and optional fused 2x2 max-pool, exactly as firmware::numerics::conv2d. Configuration registers are write-only (they read 0; values wider than a field are truncated) and ignore writes while STATUS.BUSY is set. Data arrays may have any byte alignment (4-byte alignment is recommended and is what the firmware uses). ----
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
  //   ERR [2:2] (r): Set with DONE when the last START was rejected: K = 0 or K > KMAX, CIN, COUT, OH, OW, KC or KKC = 0, or KKC > WBUF_DEPTH. Nothing is read or written then. The engine does not check that the registers are consistent with each other (the driver derives them: firmware::accel::conv_shape_regs).
  localparam int unsigned CONV_STATUS_ERR_LSB = 2;
  localparam int unsigned CONV_STATUS_ERR_WIDTH = 1;
  // IN_ADDR (w): Byte address of the input activations, u8, row-major ih x iw x cin (channels last).
  localparam logic [11:0] CONV_IN_ADDR = 12'h008;
  // W_ADDR (w): Byte address of the weights, i8, row-major cout x k x k x cin.
  localparam logic [11:0] CONV_W_ADDR = 12'h00c;
  // PARAM_ADDR (w): Byte address of the per-output-channel parameters, 8 bytes each: i32 LE bias, u16 LE requantisation multiplier, u8 shift (values outside 1..=47 are clamped into it, as numerics::scale does), one unused byte. firmware::accel::pack_conv_params builds it.
  localparam logic [11:0] CONV_PARAM_ADDR = 12'h010;
  // OUT_ADDR (w): Byte address of the output activations, u8, row-major oh x ow x cout (written with byte strobes).
  localparam logic [11:0] CONV_OUT_ADDR = 12'h01c;
  // OH (w): Output height after pooling: ih-k+1, halved (floor) with POOL.
  localparam logic [11:0] CONV_OH = 12'h020;
  //   VALUE [7:0] (w): 1..=DIM_MAX (0 is rejected).
  localparam int unsigned CONV_OH_VALUE_LSB = 0;
  localparam int unsigned CONV_OH_VALUE_WIDTH = 8;
  // OW (w): Output width after pooling: iw-k+1, halved (floor) with POOL.
  localparam logic [11:0] CONV_OW = 12'h024;
  //   VALUE [7:0] (w): 1..=DIM_MAX (0 is rejected).
  localparam int unsigned CONV_OW_VALUE_LSB = 0;
  localparam int unsigned CONV_OW_VALUE_WIDTH = 8;
  // CIN (w): Input channels.
  localparam logic [11:0] CONV_CIN = 12'h028;
  //   VALUE [7:0] (w): 1..=DIM_MAX.
  localparam int unsigned CONV_CIN_VALUE_LSB = 0;
  localparam int unsigned CONV_CIN_VALUE_WIDTH = 8;
  // COUT (w): Output channels.
  localparam logic [11:0] CONV_COUT = 12'h02c;
  //   VALUE [7:0] (w): 1..=DIM_MAX.
  localparam int unsigned CONV_COUT_VALUE_LSB = 0;
  localparam int unsigned CONV_COUT_VALUE_WIDTH = 8;
  // K (w): Square kernel size.
  localparam logic [11:0] CONV_K = 12'h030;
  //   VALUE [3:0] (w): 1..=KMAX.
  localparam int unsigned CONV_K_VALUE_LSB = 0;
  localparam int unsigned CONV_K_VALUE_WIDTH = 4;
  // FLAGS (w): Layer options.
  localparam logic [11:0] CONV_FLAGS = 12'h034;
  //   POOL [0:0] (w): 1: fused 2x2/2 max-pool (floor) after the ReLU clamp.
  localparam int unsigned CONV_FLAGS_POOL_LSB = 0;
  localparam int unsigned CONV_FLAGS_POOL_WIDTH = 1;
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
  // ROW_STRIDE (w): Bytes per input row: iw*cin.
  localparam logic [11:0] CONV_ROW_STRIDE = 12'h040;
  // KC (w): Bytes of one kernel row of a window: k*cin.
  localparam logic [11:0] CONV_KC = 12'h044;
  //   VALUE [9:0] (w): 1..=WBUF_DEPTH.
  localparam int unsigned CONV_KC_VALUE_LSB = 0;
  localparam int unsigned CONV_KC_VALUE_WIDTH = 10;
  // KKC (w): Weight bytes per output channel: k*k*cin.
  localparam logic [11:0] CONV_KKC = 12'h048;
  //   VALUE [9:0] (w): 1..=WBUF_DEPTH.
  localparam int unsigned CONV_KKC_VALUE_LSB = 0;
  localparam int unsigned CONV_KKC_VALUE_WIDTH = 10;

  // ---- block PENGINE: P-layer engine: one pruned power-of-two dense layer, exactly firmware::numerics::dense_p_acc then requantize (or raw i32 accumulators when FINAL). Weight-driven: walks each row's entry bytes. Configuration writes are ignored while STATUS.BUSY is set. All pointers must point into RAM. The input must not change while BUSY (the engine keeps a copy of it). ----
  localparam logic [31:0] PENGINE_BASE = 32'hf0002000;
  localparam int unsigned PENGINE_AW = 12;  // offset width in bits
  // CTRL (w): Control.
  localparam logic [11:0] PENGINE_CTRL = 12'h000;
  //   START [0:0] (w): Write 1 to run the layer (clears DONE, ERR and CYCLES); ignored while busy.
  localparam int unsigned PENGINE_CTRL_START_LSB = 0;
  localparam int unsigned PENGINE_CTRL_START_WIDTH = 1;
  // STATUS (r): Status.
  localparam logic [11:0] PENGINE_STATUS = 12'h004;
  //   BUSY [0:0] (r): 1 from START until the last output is written.
  localparam int unsigned PENGINE_STATUS_BUSY_LSB = 0;
  localparam int unsigned PENGINE_STATUS_BUSY_WIDTH = 1;
  //   DONE [1:1] (r): Set when the layer finishes (at once when N_OUT = 0); cleared by START.
  localparam int unsigned PENGINE_STATUS_DONE_LSB = 1;
  localparam int unsigned PENGINE_STATUS_DONE_WIDTH = 1;
  //   ERR [2:2] (r): A non-zero entry's input index was >= N_IN: the term was skipped (nothing read out of range).
  localparam int unsigned PENGINE_STATUS_ERR_LSB = 2;
  localparam int unsigned PENGINE_STATUS_ERR_WIDTH = 1;
  // CFG (rw): Layer options.
  localparam logic [11:0] PENGINE_CFG = 12'h008;
  //   BITS [2:0] (rw): Code width of the entry bytes, 2..=7 (reset 4).
  localparam int unsigned PENGINE_CFG_BITS_LSB = 0;
  localparam int unsigned PENGINE_CFG_BITS_WIDTH = 3;
  //   FINAL [8:8] (rw): 1: write i32 LE accumulators (logits) instead of requantised u8.
  localparam int unsigned PENGINE_CFG_FINAL_LSB = 8;
  localparam int unsigned PENGINE_CFG_FINAL_WIDTH = 1;
  // N_OUT (rw): Number of rows (outputs).
  localparam logic [11:0] PENGINE_N_OUT = 12'h00c;
  //   VALUE [15:0] (rw): 0 finishes at once.
  localparam int unsigned PENGINE_N_OUT_VALUE_LSB = 0;
  localparam int unsigned PENGINE_N_OUT_VALUE_WIDTH = 16;
  // N_IN (rw): Input length (bounds check).
  localparam logic [11:0] PENGINE_N_IN = 12'h010;
  //   VALUE [15:0] (rw): Input vector length in bytes. Up to 4 * PENGINE_BUF_WORDS - 3 (4093): START first copies the input into the engine's buffer (one bus read per word) and the row walk reads it from there; larger inputs are read into it one word per activation (slow).
  localparam int unsigned PENGINE_N_IN_VALUE_LSB = 0;
  localparam int unsigned PENGINE_N_IN_VALUE_WIDTH = 16;
  // IN_ADDR (w): Byte address of the input activations, n_in u8 values, any alignment.
  localparam logic [11:0] PENGINE_IN_ADDR = 12'h014;
  // ENT_ADDR (w): Byte address of the entry bytes [skip | sign | magnitude], all rows back to back, any alignment.
  localparam logic [11:0] PENGINE_ENT_ADDR = 12'h018;
  // LEN_ADDR (w): Byte address of the row lengths (entry counts), n_out u16 LE values, 2-byte aligned.
  localparam logic [11:0] PENGINE_LEN_ADDR = 12'h01c;
  // BIAS_ADDR (w): Byte address of the biases, n_out i32 LE values, 4-byte aligned.
  localparam logic [11:0] PENGINE_BIAS_ADDR = 12'h020;
  // MULT_ADDR (w): Byte address of multiplier 0, u16 LE; multiplier o is at MULT_ADDR + (o << RQ_STRIDE.M_LG); 2-byte aligned.
  localparam logic [11:0] PENGINE_MULT_ADDR = 12'h024;
  // SHIFT_ADDR (w): Byte address of shift 0, u8; shift o is at SHIFT_ADDR + (o << RQ_STRIDE.SH_LG). Values outside 1..=47 are clamped into it, as numerics::scale does.
  localparam logic [11:0] PENGINE_SHIFT_ADDR = 12'h028;
  // OUT_ADDR (w): Byte address of the outputs: n_out u8 values (byte writes), or n_out i32 LE values (4-byte aligned) when FINAL. Must not overlap the input.
  localparam logic [11:0] PENGINE_OUT_ADDR = 12'h02c;
  // RQ_STRIDE (rw): log2 strides of the requantisation arrays (0..=2): packed arrays are M_LG = 1, SH_LG = 0 (reset); {m: u16, shift: u8, pad} records are MULT_ADDR = rec, SHIFT_ADDR = rec + 2, M_LG = SH_LG = 2.
  localparam logic [11:0] PENGINE_RQ_STRIDE = 12'h030;
  //   M_LG [1:0] (rw): log2 of the multiplier stride in bytes.
  localparam int unsigned PENGINE_RQ_STRIDE_M_LG_LSB = 0;
  localparam int unsigned PENGINE_RQ_STRIDE_M_LG_WIDTH = 2;
  //   SH_LG [9:8] (rw): log2 of the shift stride in bytes.
  localparam int unsigned PENGINE_RQ_STRIDE_SH_LG_LSB = 8;
  localparam int unsigned PENGINE_RQ_STRIDE_SH_LG_WIDTH = 2;
  // CYCLES (r): Clock cycles from START to DONE of the last run.
  localparam logic [11:0] PENGINE_CYCLES = 12'h034;

endpackage : accel_pkg

`default_nettype wire
