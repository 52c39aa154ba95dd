// Simulation top of the SoC (the Verilated model the Rust harness drives): soc_core with a fast
// UART and the behavioural SPI flash. Flash contents (firmware image, model blob, input image at
// the FLASH_* areas of rtl/regmap/accel.toml): `+flash=<hex>` (bytes, `@offset` lines); the boot
// ROM copies the firmware to RAM. Requires -DSIM.
`default_nettype none

module soc_sim_top #(
  parameter int unsigned UartDiv       = 2,
  parameter bit          FastMul       = 1'b0,
  parameter bit          EnableConv    = 1'b1,
  parameter bit          EnablePengine = 1'b1
) (
  input  wire logic   clk_i,
  input  wire logic   rst_ni,
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
  logic       unused_tx, unused_exited;
  logic [6:0] unused_flash;

  soc_core #(
    .UartDiv       (UartDiv),
    .FastMul       (FastMul),
    .EnableConv    (EnableConv),
    .EnablePengine (EnablePengine)
  ) u_soc (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .uart_tx_o     (unused_tx),
    .uart_valid_o  (uart_valid_o),
    .uart_data_o   (uart_data_o),
    .exit_valid_o  (exit_valid_o),
    .exited_o      (unused_exited),
    .exit_code_o   (exit_code_o),
    .trap_o        (trap_o),
    .pc_o          (pc_o),
    .instret_o     (instret_o),
    .cycle_o       (cycle_o),
    .flash_csb_o   (flash_csb),
    .flash_clk_o   (flash_clk),
    .flash_io_oe_o (flash_oe),
    .flash_io_do_o (flash_do),
    .flash_io_di_i ({2'b00, flash_miso, 1'b0})
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
