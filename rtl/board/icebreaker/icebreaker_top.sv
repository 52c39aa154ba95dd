// iCEBreaker (iCE40UP5K-SG48) top: soc_core at the board's 12 MHz oscillator (no PLL), a
// power-on reset, the FT2232H UART, the on-board LEDs and the SPI flash through SB_IO tristates.
// The bitstream holds no firmware: the SoC's boot ROM copies it from flash (rtl/soc/README.md).
// Pins: icebreaker.pcf. Build: `cnnfpga fpga build --board icebreaker` (docs/fpga.md).
//
// LEDs (active low): green = the firmware wrote EXIT with 0; red = it wrote a non-zero code or
// the CPU trapped; both off while it runs.
//
// Reset: the iCE40 clears every flip-flop at configuration, so a counter that starts at 0 holds
// `rst_n` low for 2^PorBits cycles after configuration (the flash must be idle before spimemio
// starts; the oscillator is already stable).
`default_nettype none

module icebreaker_top #(
  parameter bit          FastMul       = 1'b0,  // 1: single-cycle multiplier (4 DSPs)
  parameter bit          EnableConv    = 1'b1,  // NP conv engine
  parameter bit          EnablePengine = 1'b0,  // P-layer engine (see docs/fpga.md for the fit)
  parameter int unsigned ConvLanes     = accel_pkg::BOARD_CONV_LANES,       // fits next to the CPU
  parameter int unsigned ConvFifoDepth = accel_pkg::BOARD_FETCH_FIFO_DEPTH, // area over speed
  parameter int unsigned PorBits       = 6      // power-on reset: 2^PorBits cycles
) (
  input  wire logic clk_i,        // 12 MHz, pin 35
  output logic      uart_tx_o,    // to the FT2232H (channel B), pin 9
  input  wire logic uart_rx_i,    // from the FT2232H, pin 6 (unused: the SoC has no UART RX)
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
  // Power-on reset
  // ---------------------------------------------------------------------------------------------
  logic [PorBits-1:0] por_q = '0;
  logic [PorBits-1:0] por_d;
  logic               rst_n;
  assign rst_n = &por_q;
  assign por_d = rst_n ? por_q : por_q + 1'b1;
  always_ff @(posedge clk_i) begin
    por_q <= por_d;
  end

  // ---------------------------------------------------------------------------------------------
  // SoC
  // ---------------------------------------------------------------------------------------------
  logic        uart_valid, exit_valid, exited, trap;
  logic [7:0]  uart_data;
  logic [31:0] exit_code, pc, instret, cycle;
  logic [3:0]  flash_oe, flash_do, flash_di;

  soc_core #(
    .UartDiv       (104),          // 12 MHz / 115200 baud
    .FastMul       (FastMul),
    .EnableConv    (EnableConv),
    .EnablePengine (EnablePengine),
    .ConvLanes     (ConvLanes),
    .ConvFifoDepth (ConvFifoDepth)
  ) u_soc (
    .clk_i         (clk_i),
    .rst_ni        (rst_n),
    .uart_tx_o     (uart_tx_o),
    .uart_valid_o  (uart_valid),
    .uart_data_o   (uart_data),
    .exit_valid_o  (exit_valid),
    .exited_o      (exited),
    .exit_code_o   (exit_code),
    .trap_o        (trap),
    .pc_o          (pc),
    .instret_o     (instret),
    .cycle_o       (cycle),
    .flash_csb_o   (flash_csb_o),
    .flash_clk_o   (flash_clk_o),
    .flash_io_oe_o (flash_oe),
    .flash_io_do_o (flash_do),
    .flash_io_di_i (flash_di)
  );

  // ---------------------------------------------------------------------------------------------
  // LEDs: registered so the pads see no glitches
  // ---------------------------------------------------------------------------------------------
  logic led_r_q, led_g_q;
  always_ff @(posedge clk_i) begin
    led_g_q <= !(exited && exit_code == 32'd0);
    led_r_q <= !(trap || (exited && exit_code != 32'd0));
  end
  assign led_r_no = led_r_q;
  assign led_g_no = led_g_q;

  logic unused;
  assign unused = ^{uart_rx_i, uart_valid, uart_data, exit_valid, pc, instret, cycle};

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
