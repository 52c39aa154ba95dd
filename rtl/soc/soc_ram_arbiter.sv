// Arbiter in front of the single-ported RAM (SPRAM): N PicoRV32-native masters, fixed priority
// (master 0 = CPU first, so firmware never starves while an engine streams), one transaction at a
// time. The RAM answers every transaction in exactly two cycles (address/write in the first,
// `ready` and read data in the second), so the owner picked in the first cycle is kept for the
// second by `owner_q` and needs no lock state. Masters only see `ready` for their own transaction.
//
// Reset: synchronous, active low, control state only.
`default_nettype none

module soc_ram_arbiter #(
  parameter int unsigned N = 3,
  parameter int unsigned WordAw = 15   // RAM word-address width (128 KB = 2^15 words)
) (
  input  wire logic                 clk_i,
  input  wire logic                 rst_ni,
  // masters
  input  wire logic [N-1:0]         m_valid_i,
  input  wire logic [N*32-1:0]     m_addr_i,    // master i at [i*32 +: 32] (flat: yosys 0.23)
  input  wire logic [N*32-1:0]     m_wdata_i,
  input  wire logic [N*4-1:0]      m_wstrb_i,
  output logic      [N-1:0]         m_ready_o,
  output logic             [31:0]   rdata_o,     // shared by all masters (qualified by ready)
  // RAM (SPRAM timing: write at the clock edge, read data valid in the next cycle)
  output logic      [WordAw-1:0]    ram_addr_o,
  output logic      [3:0]           ram_wen_o,
  output logic      [31:0]          ram_wdata_o,
  input  wire logic [31:0]          ram_rdata_i
);
  initial begin
    if (N < 1 || N > 8) begin
      $error("soc_ram_arbiter: N must be in 1..8");
    end
  end

  localparam int unsigned OwnerW = (N > 1) ? $clog2(N) : 1;

  logic              ready_q;
  logic [OwnerW-1:0] owner_q, owner;
  logic         any;

  always_comb begin
    owner = owner_q;
    any   = 1'b0;
    if (!ready_q) begin
      owner = '0;
      for (int i = N - 1; i >= 0; i--) begin
        if (m_valid_i[i]) begin
          owner = OwnerW'(i);
          any   = 1'b1;
        end
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      ready_q <= 1'b0;
    end else begin
      ready_q <= any;   // any is 0 in the ready cycle: at most one transaction in flight
    end
    owner_q <= owner;
  end

  // Byte address bits [WordAw+1:2] select the word: pointers outside the RAM alias into it.
  logic [31:0] sel_addr;
  assign sel_addr    = m_addr_i[owner*32 +: 32];
  assign ram_addr_o  = sel_addr[WordAw+1:2];
  assign ram_wdata_o = m_wdata_i[owner*32 +: 32];
  assign ram_wen_o   = any ? m_wstrb_i[owner*4 +: 4] : 4'd0;
  assign rdata_o     = ram_rdata_i;

  always_comb begin
    m_ready_o = '0;
    m_ready_o[owner_q] = ready_q;
  end

  logic unused_addr;
  assign unused_addr = ^{sel_addr[31:WordAw+2], sel_addr[1:0]};
endmodule

`default_nettype wire
