// The iCEBreaker SoC without its pads and clock: power-on reset, soc_core with the board
// configuration (every parameter defaults to the accel_pkg BOARD_* value from
// rtl/regmap/accel.toml), and the LED logic. The board top (icebreaker_top: SB_PLL40_PAD and
// SB_IO pads) and the simulation top (rtl/soc/sim/soc_sim_top: a flash model and the Rust
// harness's pins) both instantiate this module, so the Verilated board SoC is the RTL that
// `cnnfpga fpga build` synthesises with only the vendor primitives swapped.
//
// LEDs (active low): green = the firmware wrote EXIT with 0; red = it wrote a non-zero code or
// the CPU trapped; both off while it runs.
//
// Reset: the iCE40 clears every flip-flop at configuration, so a counter that starts at 0 holds
// the SoC in reset for 2^PorBits cycles after `rst_ni` rises (the board ties it to the PLL's
// LOCK; the flash must be idle before soc_flash starts).
`default_nettype none

module icebreaker_soc #(
  parameter int unsigned Cpu           = accel_pkg::BOARD_CPU,
  parameter bit          FastMul       = 1'(accel_pkg::BOARD_FAST_MUL),
  parameter bit          EnableConv    = 1'b1,
  parameter bit          EnablePengine = 1'(accel_pkg::BOARD_ENABLE_PENGINE),
  parameter int unsigned ConvLanes     = accel_pkg::BOARD_CONV_LANES,
  parameter int unsigned ConvFifoDepth = accel_pkg::BOARD_FETCH_FIFO_DEPTH,
  parameter int unsigned UartDiv       = accel_pkg::BOARD_UART_DIV,
  parameter int unsigned PorBits       = 6
) (
  input  wire logic        clk_i,
  input  wire logic        rst_ni,         // board: PLL lock; simulation: the harness
  output logic             uart_tx_o,
  input  wire logic        uart_rx_i,
  output logic             led_r_no,
  output logic             led_g_no,
  output logic             flash_csb_o,
  output logic             flash_clk_o,
  output logic [3:0]       flash_io_oe_o,
  output logic [3:0]       flash_io_do_o,
  input  wire logic [3:0]  flash_io_di_i,
  // observability (the simulation harness; unused on the board)
  output logic             uart_valid_o,
  output logic [7:0]       uart_data_o,
  output logic             exit_valid_o,
  output logic [31:0]      exit_code_o,
  output logic             trap_o,
  output logic [31:0]      pc_o,
  output logic [31:0]      instret_o,
  output logic [31:0]      cycle_o
);
  // ---------------------------------------------------------------------------------------------
  // Power-on reset
  // ---------------------------------------------------------------------------------------------
  logic [PorBits-1:0] por_q = '0;
  logic [PorBits-1:0] por_d;
  logic               rst_n;
  assign rst_n = &por_q;
  always_comb begin
    por_d = por_q;
    if (!rst_ni) begin
      por_d = '0;
    end else if (!rst_n) begin
      por_d = por_q + 1'b1;
    end
  end
  always_ff @(posedge clk_i) begin
    por_q <= por_d;
  end

  // ---------------------------------------------------------------------------------------------
  // SoC
  // ---------------------------------------------------------------------------------------------
  logic exited;

  soc_core #(
    .UartDiv       (UartDiv),
    .Cpu           (Cpu),
    .FastMul       (FastMul),
    .EnableConv    (EnableConv),
    .EnablePengine (EnablePengine),
    .ConvLanes     (ConvLanes),
    .ConvFifoDepth (ConvFifoDepth)
  ) u_soc (
    .clk_i         (clk_i),
    .rst_ni        (rst_n),
    .uart_tx_o     (uart_tx_o),
    .uart_rx_i     (uart_rx_i),
    .uart_valid_o  (uart_valid_o),
    .uart_data_o   (uart_data_o),
    .exit_valid_o  (exit_valid_o),
    .exited_o      (exited),
    .exit_code_o   (exit_code_o),
    .trap_o        (trap_o),
    .pc_o          (pc_o),
    .instret_o     (instret_o),
    .cycle_o       (cycle_o),
    .flash_csb_o   (flash_csb_o),
    .flash_clk_o   (flash_clk_o),
    .flash_io_oe_o (flash_io_oe_o),
    .flash_io_do_o (flash_io_do_o),
    .flash_io_di_i (flash_io_di_i)
  );

  // ---------------------------------------------------------------------------------------------
  // LEDs: registered so the pads see no glitches
  // ---------------------------------------------------------------------------------------------
  logic led_r_q, led_g_q;
  always_ff @(posedge clk_i) begin
    led_g_q <= !(exited && exit_code_o == 32'd0);
    led_r_q <= !(trap_o || (exited && exit_code_o != 32'd0));
  end
  assign led_r_no = led_r_q;
  assign led_g_no = led_g_q;
endmodule

`default_nettype wire
