// TEMPORARY register offsets of the P engine, until rtl/regmap/accel.toml (the single source) is
// committed and this block is added to it; then this file is deleted and pengine.sv imports the
// generated package.
`default_nettype none

package pengine_regs_pkg;
  localparam logic [11:0] PENGINE_CTRL       = 12'h000;
  localparam logic [11:0] PENGINE_STATUS     = 12'h004;
  localparam logic [11:0] PENGINE_CFG        = 12'h008;
  localparam logic [11:0] PENGINE_N_OUT      = 12'h00C;
  localparam logic [11:0] PENGINE_N_IN       = 12'h010;
  localparam logic [11:0] PENGINE_IN_ADDR    = 12'h014;
  localparam logic [11:0] PENGINE_ENT_ADDR   = 12'h018;
  localparam logic [11:0] PENGINE_LEN_ADDR   = 12'h01C;
  localparam logic [11:0] PENGINE_BIAS_ADDR  = 12'h020;
  localparam logic [11:0] PENGINE_MULT_ADDR  = 12'h024;
  localparam logic [11:0] PENGINE_SHIFT_ADDR = 12'h028;
  localparam logic [11:0] PENGINE_OUT_ADDR   = 12'h02C;
  localparam logic [11:0] PENGINE_RQ_STRIDE  = 12'h030;
  localparam logic [11:0] PENGINE_CYCLES     = 12'h034;
endpackage

`default_nettype wire
