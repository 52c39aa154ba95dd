// Post-processing of one output pixel of a group: requantise each lane's (max-pooled)
// accumulator with one shared bit-serial multiplier, then write the lane's output byte.
//
// Requantisation is exactly numerics::requantize: y = clamp((acc*m + 2^(s-1)) >>> s, 0, 255),
// where the shift s was clamped into 1..=47 when it was loaded. With P = acc*m:
//   (P + 2^(s-1)) >>> s = (P >>> s) + P[s-1]
// (adding 2^(s-1) carries into bit s exactly when bit s-1 is set). The multiplier is
// LSB first and shifts right every step, r = (r + m[i]*acc*2^16) >>> 1, so after 16 steps
// r = P and after 16 + s steps r = P >>> s, the bit shifted out last being P[s-1]. No barrel
// shifter: one 33-bit adder and a 48-bit shift register.
// The steps after the 16th add nothing and shift by four while four or more remain, so a
// lane costs 16 + s/4 + s%4 cycles, one to clamp and its byte write (overlapped with the next
// lane), all overlapped with the MACs of the next pixel (res_i is released as soon as the
// last lane's 16 adding steps are done).
//
// Writes: one byte per lane (wr_strb one-hot, the byte replicated on all four lanes of
// wr_data), so no output buffer and no merging logic.
//
// Reset: synchronous, active low (the SoC convention), on control state only.
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
  // requantisation parameters of the group, written while idle: lane prm_wa_i gets
  // {shift (clamped into 1..47), multiplier}
  input  wire logic                     prm_we_i,
  input  wire logic [(Lanes > 1 ? $clog2(Lanes) : 1)-1:0] prm_wa_i,
  input  wire logic [21:0]              prm_wdata_i,
  output logic                          res_release_o, // res_i has been read
  output logic                          idle_o,
  // write requests (to the bus arbiter)
  output logic                          wr_req_o,
  output logic [AddrBits-1:0]           wr_addr_o,    // word aligned
  output logic [7:0]                    wr_data_o,    // the byte (replicated on the bus)
  output logic [3:0]                    wr_strb_o,
  input  wire logic                     wr_gnt_i,
  input  wire logic                     wr_done_i
);
  localparam int unsigned LaneBits = Lanes > 1 ? $clog2(Lanes) : 1;

  typedef enum logic [1:0] {StIdle, StMul, StOut} state_e;

  state_e                state_q, state_d;
  logic [LaneBits-1:0]   lane_q, lane_d;
  logic [5:0]            step_q, step_d;     // steps left (16 + s .. 1)
  logic [5:0]            s_q, s_d;           // shift of the lane
  logic [15:0]           m_q, m_d;           // multiplier, consumed LSB first
  logic [47:0]           r_q, r_d;
  logic                  rnd_q, rnd_d;       // last bit shifted out of r
  logic                  held_q, held_d;     // res_i still needed (adding steps of the last lane)
  logic                  wpend_q, wpend_d;   // a byte waits to be written
  logic                  sent_q, sent_d;     // ... and has been granted
  logic [7:0]            y_q, y_d;
  logic [AddrBits-1:0]   waddr_q, waddr_d;   // byte address of the pending write
  logic [AddrBits-1:0]   grp_q, grp_d, pix_q, pix_d;

  // ---- parameter RAM (an EBR, no per-lane flip-flops, no lane multiplexer) ----
  // Read port addressed by the next state: prm_q holds the parameters of the lane that the
  // next StIdle -> StMul or StOut -> StMul transition starts (lane 0 from idle, else lane + 1).
  (* ram_style = "block", no_rw_check *)
  logic [21:0]         prm_mem [2**LaneBits];
  logic [21:0]         prm_q;
  logic [LaneBits-1:0] prm_ra;
  always_ff @(posedge clk_i) begin
    if (prm_we_i) begin
      prm_mem[prm_wa_i] <= prm_wdata_i;
    end
    prm_q <= prm_mem[prm_ra];
  end

  // ---- one multiplier step ----
  logic signed [31:0] acc;
  logic        [32:0] sum;
  logic               adding;
  always_comb begin
    acc    = $signed(res_i[32*lane_q +: 32]);
    adding = m_q[0];    // m_q is 0 after the 16 adding steps
    sum    = {r_q[47], r_q[47:16]} + (adding ? {acc[31], acc} : 33'd0);
  end

  // ---- clamp of r = P >>> s, rounding bit rnd_q ----
  logic [7:0] y;
  always_comb begin
    if (r_q[47]) y = 8'd0;
    else if (r_q[46:8] != '0 || r_q[7:0] == 8'hff) y = 8'hff;
    else y = r_q[7:0] + {7'd0, rnd_q};
  end

  assign wr_req_o  = wpend_q && !sent_q;
  assign wr_addr_o = {waddr_q[AddrBits-1:2], 2'b00};
  assign wr_data_o = y_q;
  assign wr_strb_o = 4'b0001 << waddr_q[1:0];
  assign idle_o    = state_q == StIdle && !wpend_q;

  // The lane whose requantisation starts next (0 from idle, else the one after lane_q).
  logic [LaneBits-1:0] nxt;
  assign nxt = state_q == StIdle ? '0 : lane_q + 1'b1;

  always_comb begin
    state_d       = state_q;
    lane_d        = lane_q;
    step_d        = step_q;
    m_d           = m_q;
    r_d           = r_q;
    rnd_d         = rnd_q;
    held_d        = held_q;
    wpend_d       = wpend_q;
    sent_d        = sent_q;
    y_d           = y_q;
    waddr_d       = waddr_q;
    grp_d         = grp_q;
    pix_d         = pix_q;
    s_d           = s_q;
    res_release_o = 1'b0;

    if (run_start_i) begin
      grp_d = out_addr_i;
    end
    if (grp_start_i) begin
      pix_d = grp_q;
      grp_d = grp_q + AddrBits'(Lanes);
    end
    if (wr_gnt_i) sent_d = 1'b1;
    if (wr_done_i && sent_q) begin
      sent_d  = 1'b0;
      wpend_d = 1'b0;
    end

    unique case (state_q)
      StIdle: begin
        if (res_valid_i) begin
          state_d = StMul;
          lane_d  = nxt;
          held_d  = 1'b1;
          m_d     = prm_q[15:0];
          s_d     = prm_q[21:16];
          step_d  = 6'd16 + s_d;
          r_d     = '0;
        end
      end
      StMul: begin
        if (step_q <= s_q && step_q >= 6'd4) begin
          // past the 16 adding steps: shift by four at a time while four or more remain
          r_d    = {{4{r_q[47]}}, r_q[47:4]};
          rnd_d  = r_q[3];
          step_d = step_q - 6'd4;
        end else begin
          r_d    = {sum, r_q[15:1]};
          rnd_d  = r_q[0];
          m_d    = m_q >> 1;
          step_d = step_q - 6'd1;
        end
        if (step_q == s_q + 6'd1 && held_q && DimBits'(lane_q) == nl_i - 1'b1) begin
          // the last lane's 16th adding step: the lanes may take the next pixel
          res_release_o = 1'b1;
          held_d        = 1'b0;
        end
        if (step_d == 6'd0) state_d = StOut;
      end
      StOut: begin
        if (!wpend_q) begin
          wpend_d = 1'b1;
          y_d     = y;
          waddr_d = pix_q + AddrBits'(lane_q);
          if (DimBits'(lane_q) == nl_i - 1'b1) begin
            state_d = StIdle;
            pix_d   = pix_q + AddrBits'(cout_i);
          end else begin
            state_d = StMul;
            lane_d  = nxt;
            m_d     = prm_q[15:0];
            s_d     = prm_q[21:16];
            step_d  = 6'd16 + s_d;
            r_d     = '0;
          end
        end
      end
      default: state_d = StIdle;
    endcase
    prm_ra = state_d == StIdle ? '0 : lane_d + 1'b1;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      wpend_q <= 1'b0;
      sent_q  <= 1'b0;
      held_q  <= 1'b0;
    end else begin
      state_q <= state_d;
      wpend_q <= wpend_d;
      sent_q  <= sent_d;
      held_q  <= held_d;
    end
  end

  always_ff @(posedge clk_i) begin
    lane_q  <= lane_d;
    step_q  <= step_d;
    s_q     <= s_d;
    m_q     <= m_d;
    r_q     <= r_d;
    rnd_q   <= rnd_d;
    y_q     <= y_d;
    waddr_q <= waddr_d;
    grp_q   <= grp_d;
    pix_q   <= pix_d;
  end

  initial begin
    if (Lanes < 1 || Lanes > 255) $error("conv_post: Lanes must be in 1..255");
  end
endmodule : conv_post

`default_nettype wire
