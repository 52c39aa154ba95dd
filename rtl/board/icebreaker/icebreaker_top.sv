// iCEBreaker (iCE40UP5K-SG48) top: the board's pads and clock around icebreaker_soc (the SoC as
// configured for this board in rtl/regmap/accel.toml). The oscillator (OSC_HZ, pin 35) feeds an
// SB_PLL40_PAD that makes BOARD_CLOCK_HZ; the SoC is held in reset until the PLL locks. The SPI
// flash pins go through SB_IO tristates. The bitstream holds no firmware: the SoC's boot ROM
// copies it from flash (rtl/soc/README.md). Pins: icebreaker.pcf. Build: `cnnfpga fpga build
// --board icebreaker` (docs/fpga.md). Everything but these vendor primitives is simulated as it
// is (rtl/soc/sim/soc_sim_top.sv instantiates icebreaker_soc with the same parameters).
`default_nettype none

module icebreaker_top #(
  parameter int unsigned Cpu           = accel_pkg::BOARD_CPU,
  parameter bit          FastMul       = 1'(accel_pkg::BOARD_FAST_MUL),
  parameter bit          EnableConv    = 1'b1,
  parameter bit          EnablePengine = 1'(accel_pkg::BOARD_ENABLE_PENGINE),
  parameter int unsigned ConvLanes     = accel_pkg::BOARD_CONV_LANES,
  parameter int unsigned ConvFifoDepth = accel_pkg::BOARD_FETCH_FIFO_DEPTH
) (
  input  wire logic clk_i,        // oscillator (accel_pkg::OSC_HZ), pin 35 (the PLL's input pad)
  output logic      uart_tx_o,    // to the FT2232H (channel B), pin 9
  input  wire logic uart_rx_i,    // from the FT2232H (channel B), pin 6
  output logic      led_r_no,     // red LED, pin 11
  output logic      led_g_no,     // green LED, pin 37
  output logic      flash_csb_o,  // pin 16
  output logic      flash_clk_o,  // pin 15
  inout  wire       flash_io0_io, // pin 14 (MOSI)
  inout  wire       flash_io1_io, // pin 17 (MISO)
  inout  wire       flash_io2_io, // pin 12
  inout  wire       flash_io3_io  // pin 13
);
  // ---------------------------------------------------------------------------------------------
  // Clock: OSC_HZ * (DIVF + 1) / ((DIVR + 1) * 2^DIVQ) = BOARD_CLOCK_HZ
  // ---------------------------------------------------------------------------------------------
  logic clk, pll_lock;

  SB_PLL40_PAD #(
    .FEEDBACK_PATH ("SIMPLE"),
    .DIVR          (4'(accel_pkg::BOARD_PLL_DIVR)),
    .DIVF          (7'(accel_pkg::BOARD_PLL_DIVF)),
    .DIVQ          (3'(accel_pkg::BOARD_PLL_DIVQ)),
    .FILTER_RANGE  (3'(accel_pkg::BOARD_PLL_FILTER_RANGE))
  ) u_pll (
    .PACKAGEPIN    (clk_i),
    .PLLOUTGLOBAL  (clk),
    .LOCK          (pll_lock),
    .RESETB        (1'b1),
    .BYPASS        (1'b0)
  );

  // ---------------------------------------------------------------------------------------------
  // SoC
  // ---------------------------------------------------------------------------------------------
  logic [3:0]  flash_oe, flash_do, flash_di;
  logic        uart_valid, exit_valid, trap;
  logic [7:0]  uart_data;
  logic [31:0] exit_code, pc, instret, cycle;

  icebreaker_soc #(
    .Cpu           (Cpu),
    .FastMul       (FastMul),
    .EnableConv    (EnableConv),
    .EnablePengine (EnablePengine),
    .ConvLanes     (ConvLanes),
    .ConvFifoDepth (ConvFifoDepth)
  ) u_soc (
    .clk_i         (clk),
    .rst_ni        (pll_lock),
    .uart_tx_o     (uart_tx_o),
    .uart_rx_i     (uart_rx_i),
    .led_r_no      (led_r_no),
    .led_g_no      (led_g_no),
    .flash_csb_o   (flash_csb_o),
    .flash_clk_o   (flash_clk_o),
    .flash_io_oe_o (flash_oe),
    .flash_io_do_o (flash_do),
    .flash_io_di_i (flash_di),
    .uart_valid_o  (uart_valid),
    .uart_data_o   (uart_data),
    .exit_valid_o  (exit_valid),
    .exit_code_o   (exit_code),
    .trap_o        (trap),
    .pc_o          (pc),
    .instret_o     (instret),
    .cycle_o       (cycle)
  );

  logic unused;
  assign unused = ^{uart_valid, uart_data, exit_valid, exit_code, trap, pc, instret, cycle};

  // ---------------------------------------------------------------------------------------------
  // Flash pads: PIN_TYPE 1010_01 = output driven by OUTPUT_ENABLE, input not registered
  // ---------------------------------------------------------------------------------------------
  SB_IO #(
    .PIN_TYPE (6'b1010_01),
    .PULLUP   (1'b0)
  ) u_flash_io [3:0] (
    .PACKAGE_PIN   ({flash_io3_io, flash_io2_io, flash_io1_io, flash_io0_io}),
    .OUTPUT_ENABLE (flash_oe),
    .D_OUT_0       (flash_do),
    .D_IN_0        (flash_di)
  );
endmodule

`default_nettype wire
