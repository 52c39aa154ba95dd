// Segment fetcher: turns (byte address, length, tag) segments into aligned 32-bit word reads,
// keeps up to FifoDepth fetched words in a FIFO and hands them out one byte per cycle, in
// order, with the segment's tag and first/last markers. Runs ahead of the consumer so bus
// latency hides behind computation.
//
// Reset: synchronous, active low (the SoC convention), on control state only (the FIFO data is
// not reset).
`default_nettype none

module conv_fetch #(
  parameter int unsigned AddrBits  = 32,
  parameter int unsigned FifoDepth = 4,
  parameter int unsigned LenBits   = 16   // width of segment lengths
) (
  input  wire logic                clk_i,
  input  wire logic                rst_ni,
  input  wire logic                clear_i,     // drop everything (start of a layer)
  // segment input (from the address generator)
  input  wire logic                seg_valid_i,
  output logic                     seg_ready_o,
  input  wire logic [AddrBits-1:0] seg_addr_i,
  input  wire logic [LenBits-1:0]  seg_len_i,   // >= 1
  input  wire logic [conv_pkg::TAG_W-1:0] seg_tag_i,
  // word read requests (to the bus arbiter; one outstanding transfer in the whole engine)
  output logic                     rd_req_o,
  output logic [AddrBits-1:0]      rd_addr_o,   // word aligned
  input  wire logic                rd_gnt_i,    // request taken this cycle
  input  wire logic                rd_done_i,   // read data valid this cycle
  input  wire logic [31:0]         rd_data_i,
  // byte output (to the consumer)
  output logic                     byte_valid_o,
  output logic [7:0]               byte_o,
  output logic                     byte_first_o, // first byte of its segment
  output logic                     byte_last_o,  // last byte of its segment
  output logic [conv_pkg::TAG_W-1:0] byte_tag_o,
  input  wire logic                byte_pop_i
);
  localparam int unsigned PtrBits = $clog2(FifoDepth);
  localparam int unsigned CntBits = $clog2(FifoDepth + 1);

  // Metadata of a FIFO word, a plain vector (yosys 0.23): {tag, last, first, hi, lo}.
  //   lo: first valid byte lane; hi: last valid byte lane; first/last: holds the segment's
  //   first/last byte; tag: the segment's tag.
  localparam int unsigned MetaW = conv_pkg::TAG_W + 6;
  localparam int unsigned MLo = 0, MHi = 2, MFirst = 4, MLast = 5, MTag = 6;

  // ---- current segment ----
  logic                seg_q, seg_d;
  logic [AddrBits-3:0] waddr_q, waddr_d;
  logic [1:0]          lo_q, lo_d;
  logic [LenBits-1:0]  left_q, left_d;
  logic                first_q, first_d;
  logic [conv_pkg::TAG_W-1:0] tag_q, tag_d;

  // ---- the word in flight ----
  logic                inflight_q, inflight_d;
  logic [MetaW-1:0]    meta_q, meta_d;

  // ---- FIFO ----
  logic [31:0]         fifo_data_q [FifoDepth];
  logic [MetaW-1:0]    fifo_meta_q [FifoDepth];
  logic [PtrBits-1:0]  wr_q, wr_d, rd_q, rd_d;
  logic [CntBits-1:0]  cnt_q, cnt_d;
  logic [1:0]          off_q, off_d;     // bytes already taken from the head entry

  // Word the current segment would read next.
  logic [2:0]  room;       // bytes from lo_q to the end of the word: 1..4
  logic        word_last;
  logic [1:0]  word_hi;
  logic [2:0]  word_n;

  always_comb begin
    room      = 3'd4 - {1'b0, lo_q};
    word_last = left_q <= LenBits'(room);
    word_hi   = word_last ? 2'(lo_q + left_q[1:0] - 2'd1) : 2'd3;
    word_n    = word_last ? left_q[2:0] : room;
  end

  assign seg_ready_o = !seg_q;
  assign rd_req_o    = seg_q && ({1'b0, cnt_q} + {{CntBits{1'b0}}, inflight_q} < (CntBits + 1)'(FifoDepth));
  assign rd_addr_o   = {waddr_q, 2'b00};

  logic [31:0]      head_data;
  logic [MetaW-1:0] head;
  logic [1:0]       idx;
  assign head_data    = fifo_data_q[rd_q];
  assign head         = fifo_meta_q[rd_q];
  assign idx          = head[MLo +: 2] + off_q;
  assign byte_valid_o = cnt_q != '0;
  assign byte_o       = head_data[{idx, 3'b000} +: 8];
  assign byte_first_o = head[MFirst] && off_q == 2'd0;
  assign byte_last_o  = head[MLast] && idx == head[MHi +: 2];
  assign byte_tag_o   = head[MTag +: conv_pkg::TAG_W];

  logic push, pop;
  assign push = rd_done_i && inflight_q;
  assign pop  = byte_pop_i && byte_valid_o && idx == head[MHi +: 2];

  always_comb begin
    seg_d      = seg_q;
    waddr_d    = waddr_q;
    lo_d       = lo_q;
    left_d     = left_q;
    first_d    = first_q;
    tag_d      = tag_q;
    inflight_d = inflight_q;
    meta_d     = meta_q;
    wr_d       = wr_q;
    rd_d       = rd_q;
    cnt_d      = cnt_q;
    off_d      = off_q;

    if (seg_valid_i && !seg_q) begin
      seg_d   = 1'b1;
      waddr_d = seg_addr_i[AddrBits-1:2];
      lo_d    = seg_addr_i[1:0];
      left_d  = seg_len_i;
      first_d = 1'b1;
      tag_d   = seg_tag_i;
    end
    if (rd_gnt_i) begin
      inflight_d  = 1'b1;
      meta_d      = {tag_q, word_last, first_q, word_hi, lo_q};
      waddr_d     = waddr_q + 1'b1;
      lo_d        = 2'd0;
      left_d      = left_q - LenBits'(word_n);
      first_d     = 1'b0;
      seg_d       = !word_last;
    end else if (push) begin
      inflight_d = 1'b0;
    end
    if (push) begin
      wr_d = (wr_q == PtrBits'(FifoDepth - 1)) ? '0 : wr_q + 1'b1;
    end
    if (byte_pop_i && byte_valid_o) begin
      off_d = pop ? 2'd0 : off_q + 2'd1;
    end
    if (pop) begin
      rd_d = (rd_q == PtrBits'(FifoDepth - 1)) ? '0 : rd_q + 1'b1;
    end
    cnt_d = cnt_q + CntBits'(push) - CntBits'(pop);

    if (clear_i) begin
      seg_d      = 1'b0;
      inflight_d = 1'b0;
      wr_d       = '0;
      rd_d       = '0;
      cnt_d      = '0;
      off_d      = '0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      seg_q      <= 1'b0;
      inflight_q <= 1'b0;
      wr_q       <= '0;
      rd_q       <= '0;
      cnt_q      <= '0;
      off_q      <= '0;
    end else begin
      seg_q      <= seg_d;
      inflight_q <= inflight_d;
      wr_q       <= wr_d;
      rd_q       <= rd_d;
      cnt_q      <= cnt_d;
      off_q      <= off_d;
    end
  end

  // Datapath registers: no reset.
  always_ff @(posedge clk_i) begin
    waddr_q <= waddr_d;
    lo_q    <= lo_d;
    left_q  <= left_d;
    first_q <= first_d;
    tag_q   <= tag_d;
    meta_q  <= meta_d;
    if (push) begin
      fifo_data_q[wr_q] <= rd_data_i;
      fifo_meta_q[wr_q] <= meta_q;
    end
  end

  initial begin
    if (FifoDepth < 2 || FifoDepth > 16)
      $error("conv_fetch: FifoDepth must be in 2..16");
    if (AddrBits < 3 || AddrBits > 32) $error("conv_fetch: AddrBits must be in 3..32");
    if (LenBits < 3 || LenBits > 16) $error("conv_fetch: LenBits must be in 3..16");
  end
endmodule : conv_fetch

`default_nettype wire
