// One lane's weight buffer: a single-port byte RAM with a registered read (maps to one iCE40
// EBR for Depth <= 512). Written while a group's weights load, read while it computes.
`default_nettype none

module conv_wbuf #(
  parameter int unsigned Depth = 512
) (
  input  wire logic                     clk_i,
  input  wire logic                     we_i,
  input  wire logic [$clog2(Depth)-1:0] addr_i,
  input  wire logic [7:0]               wdata_i,
  output logic      [7:0]               rdata_o
);
  // no_rw_check: a read in the cycle of a write (same address: one port) is never used (the lane
  // reads weights only on activation beats, when nothing is written), so yosys needs no
  // read-during-write bypass (27 flip-flops and 14 LUTs per lane).
  (* no_rw_check *)
  logic [7:0] mem_q [Depth];
  logic [7:0] rdata_q;

  // RAM inference template: the one place where an always_ff does more than `q <= d`.
  always_ff @(posedge clk_i) begin
    if (we_i) begin
      mem_q[addr_i] <= wdata_i;
    end
    rdata_q <= mem_q[addr_i];
  end

  assign rdata_o = rdata_q;

  initial begin
    if (Depth < 2) $error("conv_wbuf: Depth must be at least 2");
  end
endmodule : conv_wbuf

`default_nettype wire
