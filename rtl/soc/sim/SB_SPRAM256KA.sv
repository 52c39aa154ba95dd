// Behavioural model of the iCE40 UP5K SPRAM primitive (16K x 16, nibble write mask), for
// simulation only; the board build uses the real primitive (rtl/soc/soc_spram.sv instantiates four).
// Read data appears after the clock edge that sampled the address (CHIPSELECT high, WREN low).
// STANDBY/SLEEP/POWEROFF are ignored (the SoC ties them to normal operation).
// Name and ports follow the vendor primitive, hence not the project's naming style.
`default_nettype none

module SB_SPRAM256KA (
  input  wire logic [13:0] ADDRESS,
  input  wire logic [15:0] DATAIN,
  input  wire logic [3:0]  MASKWREN,
  input  wire logic        WREN,
  input  wire logic        CHIPSELECT,
  input  wire logic        CLOCK,
  input  wire logic        STANDBY,
  input  wire logic        SLEEP,
  input  wire logic        POWEROFF,
  output logic [15:0]      DATAOUT
);
  logic [15:0] mem [16384];
  logic        unused_pins;
  assign unused_pins = STANDBY ^ SLEEP ^ POWEROFF;

  always_ff @(posedge CLOCK) begin
    if (CHIPSELECT) begin
      if (WREN) begin
        if (MASKWREN[0]) mem[ADDRESS][3:0]   <= DATAIN[3:0];
        if (MASKWREN[1]) mem[ADDRESS][7:4]   <= DATAIN[7:4];
        if (MASKWREN[2]) mem[ADDRESS][11:8]  <= DATAIN[11:8];
        if (MASKWREN[3]) mem[ADDRESS][15:12] <= DATAIN[15:12];
      end else begin
        DATAOUT <= mem[ADDRESS];
      end
    end
  end
endmodule

`default_nettype wire
