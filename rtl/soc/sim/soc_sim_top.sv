// Simulation top of the SoC (the Verilated model the Rust harness drives): the iCEBreaker SoC
// (rtl/board/icebreaker/icebreaker_soc.sv, the board configuration from accel_pkg BOARD_*,
// UART divider included) with the behavioural SPI flash in place of the board's SB_IO pads and
// flash chip, and the clock and reset from the harness instead of the SB_PLL40_PAD. Flash
// contents (firmware image, model blob, input image at the FLASH_* areas of
// rtl/regmap/accel.toml): `+flash=<hex>` (bytes, `@offset` lines); the boot ROM copies the
// firmware to RAM. The harness drives `uart_rx_i` with serial timing (sim::soc::Session).
// Requires -DSIM.
//
// Other configurations, by name (sim::soc::SocConfig): `Wide = 1` swaps in the simulation
// reference engines (accel_pkg LANES lanes, FETCH_FIFO_DEPTH, the P engine); `FastMul = 1`
// PicoRV32's single-cycle multiplier (with `Cpu = CPU_PICORV32`).
`default_nettype none

module soc_sim_top #(
  parameter int unsigned Cpu     = accel_pkg::BOARD_CPU,
  parameter bit          FastMul = 1'(accel_pkg::BOARD_FAST_MUL),
  parameter bit          Wide    = 1'b0
) (
  input  wire logic   clk_i,
  input  wire logic   rst_ni,
  input  wire logic   uart_rx_i,
  output logic        uart_valid_o,
  output logic [7:0]  uart_data_o,
  output logic        exit_valid_o,
  output logic [31:0] exit_code_o,
  output logic        trap_o,
  output logic [31:0] pc_o,
  output logic [31:0] instret_o,
  output logic [31:0] cycle_o
);
  logic       flash_csb, flash_clk, flash_miso;
  logic [3:0] flash_oe, flash_do;
  logic       unused_tx, unused_led_r, unused_led_g;
  logic [6:0] unused_flash;

  icebreaker_soc #(
    .Cpu           (Cpu),
    .FastMul       (FastMul),
    .EnablePengine (Wide ? 1'b1 : 1'(accel_pkg::BOARD_ENABLE_PENGINE)),
    .ConvLanes     (Wide ? accel_pkg::LANES : accel_pkg::BOARD_CONV_LANES),
    .ConvFifoDepth (Wide ? accel_pkg::FETCH_FIFO_DEPTH : accel_pkg::BOARD_FETCH_FIFO_DEPTH)
  ) u_soc (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .uart_tx_o     (unused_tx),
    .uart_rx_i     (uart_rx_i),
    .led_r_no      (unused_led_r),
    .led_g_no      (unused_led_g),
    .flash_csb_o   (flash_csb),
    .flash_clk_o   (flash_clk),
    .flash_io_oe_o (flash_oe),
    .flash_io_do_o (flash_do),
    .flash_io_di_i ({2'b00, flash_miso, 1'b0}),
    .uart_valid_o  (uart_valid_o),
    .uart_data_o   (uart_data_o),
    .exit_valid_o  (exit_valid_o),
    .exit_code_o   (exit_code_o),
    .trap_o        (trap_o),
    .pc_o          (pc_o),
    .instret_o     (instret_o),
    .cycle_o       (cycle_o)
  );
  assign unused_flash = {flash_oe, flash_do[3:1]};

  spi_flash_model u_flash (
    .clk_i  (clk_i),
    .csb_i  (flash_csb),
    .sck_i  (flash_clk),
    .mosi_i (flash_do[0]),
    .miso_o (flash_miso)
  );
endmodule

`default_nettype wire
