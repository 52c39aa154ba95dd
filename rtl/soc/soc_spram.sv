// The SoC RAM: 128 KB from the UP5K's four SB_SPRAM256KA blocks (16K x 16 each), as two banks of
// two (one per 16-bit half of the word), bank = word address bit 14. Same ports and timing as
// picosoc's ice40up5k_spram, which it replaced (#13): the read data appears in the cycle after
// the address, but the bank of the read-data multiplexer is the *registered* one, so the read
// data depends on no address of the current cycle. picosoc's version selected with the current
// address: a combinational path from the arbiter's owner choice (the CPU's request decode)
// through the SPRAM into the P engine's decoder, 14 MHz instead of the board's 21.75 with the
// P engine on the board. The arbiter holds the owner's address in the read-data cycle, so the
// data are the same.
`default_nettype none

module soc_spram (
  input  wire logic        clk_i,
  input  wire logic [3:0]  wen_i,     // byte write enables (0: read)
  input  wire logic [14:0] addr_i,    // word address
  input  wire logic [31:0] wdata_i,
  output logic      [31:0] rdata_o    // the word at the previous cycle's addr_i (after a read)
);
  logic        bank_q;
  logic [15:0] rdata_lo [2];
  logic [15:0] rdata_hi [2];

  always_ff @(posedge clk_i) begin
    bank_q <= addr_i[14];
  end
  assign rdata_o = {rdata_hi[bank_q], rdata_lo[bank_q]};

  for (genvar b = 0; b < 2; b++) begin : g_bank
    logic cs;
    assign cs = (addr_i[14] == 1'(b));
    SB_SPRAM256KA u_lo (
      .ADDRESS    (addr_i[13:0]),
      .DATAIN     (wdata_i[15:0]),
      .MASKWREN   ({wen_i[1], wen_i[1], wen_i[0], wen_i[0]}),
      .WREN       (|wen_i[1:0]),
      .CHIPSELECT (cs),
      .CLOCK      (clk_i),
      .STANDBY    (1'b0),
      .SLEEP      (1'b0),
      .POWEROFF   (1'b1),
      .DATAOUT    (rdata_lo[b])
    );
    SB_SPRAM256KA u_hi (
      .ADDRESS    (addr_i[13:0]),
      .DATAIN     (wdata_i[31:16]),
      .MASKWREN   ({wen_i[3], wen_i[3], wen_i[2], wen_i[2]}),
      .WREN       (|wen_i[3:2]),
      .CHIPSELECT (cs),
      .CLOCK      (clk_i),
      .STANDBY    (1'b0),
      .SLEEP      (1'b0),
      .POWEROFF   (1'b1),
      .DATAOUT    (rdata_hi[b])
    );
  end
endmodule

`default_nettype wire
