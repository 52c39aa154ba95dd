// Post-processing of one output pixel of a group: requantise each lane's (max-pooled)
// accumulator with one shared, bit-serial 32x16 multiplier, then write the nl output bytes
// to memory, merging neighbours that share a word into one write with byte strobes.
//
// Requantisation is exactly numerics::requantize: y = clamp((acc*m + 2^(s-1)) >>> s, 0, 255),
// where the shift s was clamped into 1..=47 when it was loaded. The product is formed MSB
// first, P = 2P + m[i]*acc, in 16 cycles; rounding, shift and clamp take one more.
// A pixel costs 17*nl cycles of requantisation plus its writes, overlapped with the MACs of
// the next pixel (res_o is released as soon as the last lane has been read).
//
// Reset: asynchronous, active low, on control state only.
`default_nettype none

module conv_post #(
  parameter int unsigned Lanes    = 5,
  parameter int unsigned AddrBits = 32,
  parameter int unsigned DimBits  = 10
) (
  input  wire logic                     clk_i,
  input  wire logic                     rst_ni,
  input  wire logic                     run_start_i,  // pulse: layer starts at out_addr_i
  input  wire logic                     grp_start_i,  // pulse: next group of output channels
  input  wire logic [AddrBits-1:0]      out_addr_i,
  input  wire logic [DimBits-1:0]       cout_i,
  input  wire logic [DimBits-1:0]       nl_i,         // lanes used by this group (1..Lanes)
  // results of the MAC lanes
  input  wire logic                     res_valid_i,
  input  wire logic [Lanes*32-1:0]      res_i,        // lane j at [32*j +: 32] (flat: yosys 0.23)
  input  wire logic [Lanes*16-1:0]      mult_i,       // lane j at [16*j +: 16]
  input  wire logic [Lanes*6-1:0]       shift_i,      // lane j at [6*j +: 6], clamped into 1..47
  output logic                          res_release_o, // res_i has been read
  output logic                          idle_o,
  // write requests (to the bus arbiter)
  output logic                          wr_req_o,
  output logic [AddrBits-1:0]           wr_addr_o,    // word aligned
  output logic [31:0]                   wr_data_o,
  output logic [3:0]                    wr_strb_o,
  input  wire logic                     wr_gnt_i,
  input  wire logic                     wr_done_i
);
  localparam int unsigned LaneBits = Lanes > 1 ? $clog2(Lanes) : 1;

  typedef enum logic [1:0] {StIdle, StMul, StRound, StWrite} state_e;

  state_e                state_q, state_d;
  logic [LaneBits-1:0]   lane_q, lane_d;
  logic [3:0]            bit_q, bit_d;
  logic signed [49:0]    p_q, p_d;
  logic [Lanes*8-1:0]    obuf_q, obuf_d;    // lane j at [8*j +: 8]
  logic [DimBits-1:0]    wl_q, wl_d;        // first lane of the next write
  logic                  sent_q, sent_d;    // write granted, waiting for completion
  logic [AddrBits-1:0]   grp_q, grp_d, pix_q, pix_d;

  // ---- requantisation of lane_q ----
  logic signed [31:0] acc;
  logic [15:0]        m;
  logic [5:0]         s;
  logic signed [49:0] v, q;
  logic [7:0]         y;
  always_comb begin
    acc = $signed(res_i[32*lane_q +: 32]);
    m   = mult_i[16*lane_q +: 16];
    s   = shift_i[6*lane_q +: 6];
    v   = p_q + (50'sd1 <<< (s - 6'd1));
    q   = v >>> s;
    if (q < 0) y = 8'd0;
    else if (q > 50'sd255) y = 8'd255;
    else y = q[7:0];
  end

  // ---- the next write: bytes wl_q.. of this pixel that fall into one word ----
  logic [AddrBits-1:0] byte_addr;
  logic [1:0]          off;
  logic [2:0]          n_bytes, room;
  logic [DimBits-1:0]  left;
  always_comb begin
    byte_addr = pix_q + AddrBits'(wl_q);
    off       = byte_addr[1:0];
    room      = 3'd4 - {1'b0, off};
    left      = nl_i - wl_q;
    n_bytes   = (left < DimBits'(room)) ? left[2:0] : room;
    wr_addr_o = {byte_addr[AddrBits-1:2], 2'b00};
    wr_data_o = '0;
    wr_strb_o = '0;
    for (int b = 0; b < 4; b++) begin
      if (b >= 32'(off) && b < 32'(off) + 32'(n_bytes)) begin
        wr_strb_o[b]          = 1'b1;
        wr_data_o[8*b +: 8]   = obuf_q[8*(32'(wl_q) + b - 32'(off)) +: 8];
      end
    end
  end

  assign wr_req_o      = state_q == StWrite && !sent_q;
  assign idle_o        = state_q == StIdle;

  always_comb begin
    state_d       = state_q;
    lane_d        = lane_q;
    bit_d         = bit_q;
    p_d           = p_q;
    obuf_d        = obuf_q;
    wl_d          = wl_q;
    sent_d        = sent_q;
    grp_d         = grp_q;
    pix_d         = pix_q;
    res_release_o = 1'b0;

    if (run_start_i) begin
      grp_d = out_addr_i;
    end
    if (grp_start_i) begin
      pix_d = grp_q;
      grp_d = grp_q + AddrBits'(Lanes);
    end

    unique case (state_q)
      StIdle: begin
        if (res_valid_i) begin
          state_d = StMul;
          lane_d  = '0;
          bit_d   = 4'd15;
          p_d     = '0;
        end
      end
      StMul: begin
        p_d   = (p_q <<< 1) + (m[bit_q] ? 50'(acc) : 50'sd0);
        bit_d = bit_q - 4'd1;
        if (bit_q == 4'd0) state_d = StRound;
      end
      StRound: begin
        obuf_d[8*lane_q +: 8] = y;
        if (DimBits'(lane_q) == nl_i - 1'b1) begin
          res_release_o = 1'b1;
          state_d       = StWrite;
          wl_d          = '0;
        end else begin
          lane_d  = lane_q + 1'b1;
          bit_d   = 4'd15;
          p_d     = '0;
          state_d = StMul;
        end
      end
      StWrite: begin
        if (wr_gnt_i) sent_d = 1'b1;
        if (wr_done_i && sent_q) begin
          sent_d = 1'b0;
          wl_d   = wl_q + DimBits'(n_bytes);
          if (wl_q + DimBits'(n_bytes) == nl_i) begin
            state_d = StIdle;
            pix_d   = pix_q + AddrBits'(cout_i);
          end
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      sent_q  <= 1'b0;
    end else begin
      state_q <= state_d;
      sent_q  <= sent_d;
    end
  end

  always_ff @(posedge clk_i) begin
    lane_q <= lane_d;
    bit_q  <= bit_d;
    p_q    <= p_d;
    obuf_q <= obuf_d;
    wl_q   <= wl_d;
    grp_q  <= grp_d;
    pix_q  <= pix_d;
  end

  initial begin
    if (Lanes < 1 || Lanes > 255) $error("conv_post: Lanes must be in 1..255");
  end
endmodule : conv_post

`default_nettype wire
