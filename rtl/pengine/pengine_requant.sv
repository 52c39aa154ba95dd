// Serial requantiser of the P-layer engine: y = clamp((acc * m + 2^(shift-1)) >> shift, 0, 255),
// bit-exact with `firmware::numerics::requantize` (round half up, shift clamped to 1..=47 as the
// golden `scale` does). No multiplier: a right-shifting shift-add multiplier (one bit of `m` per
// cycle, 16 cycles) followed by an arithmetic right shift of (shift-1) bits, one bit per cycle; the
// last "add 1, shift 1" step (which equals the single rounding) is folded into the output
// saturation: with v the value after those shifts, (v + 1) >> 1 = (v >> 1) + v[0], so only an
// 8-bit increment is needed (v negative -> 0, v >> 1 >= 256 or = 255 with v[0] -> 255).
// Latency: 16 + (shift-1) + 2 cycles after `start_i`.
// Area: one 33-bit adder and a 49-bit register; the multiplicand is the caller's register
// (`acc_i` must stay stable from `start_i` until `done_o`), the multiplier is loaded into the
// product register's low half by `m_load_i` before `start_i`.
//
// Reset: synchronous, active low (`rst_ni`), control state only (project convention for rtl/soc and
// rtl/pengine).
`default_nettype none

module pengine_requant (
  input  wire logic        clk_i,
  input  wire logic        rst_ni,
  input  wire logic        m_load_i,  // while idle: take `m_i` (changes y_o; load after using it)
  input  wire logic [15:0] m_i,       // unsigned multiplier (contract: <= 32767; 16 bits handled)
  input  wire logic        start_i,   // one-cycle pulse; `shift_i` sampled in this cycle
  input  wire logic [31:0] acc_i,     // signed accumulator, held from start_i until done_o
  input  wire logic [7:0]  shift_i,   // right shift (contract: 1..=47; clamped like the golden)
  output logic             busy_o,
  output logic             done_o,    // one-cycle pulse; y_o valid from this cycle until the
                                      // next m_load_i / start_i
  output logic [7:0]       y_o
);
  typedef enum logic [1:0] {
    StIdle,
    StMul,
    StShr,
    StRound
  } state_e;

  state_e      state_q, state_d;
  logic [4:0]  cnt_q, cnt_d;       // multiply steps left
  logic [5:0]  sh_q, sh_d;         // clamped shift - 1: shift steps left
  // {hi[32:0], lo[15:0]}: hi accumulates, lo holds the unconsumed multiplier bits; after 16 steps
  // the 49-bit register is the exact signed product.
  logic [48:0] p_q, p_d;
  logic        done_q, done_d;

  logic [32:0] hi_sum;
  logic [5:0]  sh_clamped;

  always_comb begin
    sh_clamped = 6'd0;
    if (shift_i == 8'd0) begin
      sh_clamped = 6'd0;                 // shift 1
    end else if (shift_i > 8'd47) begin
      sh_clamped = 6'd46;                // shift 47
    end else begin
      sh_clamped = 6'(shift_i - 8'd1);
    end
  end

  // one shifting datapath for both phases: the multiplicand is added only while multiplying
  assign hi_sum = p_q[48:16] + ((p_q[0] && state_q == StMul) ? {acc_i[31], acc_i} : 33'd0);

  always_comb begin
    state_d = state_q;
    cnt_d   = cnt_q;
    sh_d    = sh_q;
    p_d     = p_q;
    done_d  = 1'b0;
    unique case (state_q)
      StIdle: begin
        if (m_load_i) begin
          p_d[15:0] = m_i;
        end
        if (start_i) begin
          p_d[48:16] = 33'd0;
          sh_d       = sh_clamped;
          cnt_d      = 5'd16;
          state_d    = StMul;
        end
      end
      StMul: begin
        p_d   = $signed({hi_sum, p_q[15:0]}) >>> 1;
        cnt_d = cnt_q - 5'd1;
        if (cnt_q == 5'd1) begin
          state_d = (sh_q == 6'd0) ? StRound : StShr;
        end
      end
      StShr: begin
        p_d  = $signed({hi_sum, p_q[15:0]}) >>> 1;  // hi_sum = p_q[48:16] here
        sh_d = sh_q - 6'd1;
        if (sh_q == 6'd1) begin
          state_d = StRound;
        end
      end
      StRound: begin
        // the rounding happens in the output logic; this cycle keeps the engine's timing
        done_d  = 1'b1;
        state_d = StIdle;
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      done_q  <= 1'b0;
    end else begin
      state_q <= state_d;
      done_q  <= done_d;
    end
    cnt_q <= cnt_d;
    sh_q  <= sh_d;
    p_q   <= p_d;
  end

  // Round and saturate: r = (v + 1) >> 1 = (v >> 1) + v[0] for the signed 49-bit v = p_q,
  // clamped to [0, 255] (the ReLU of the zero-point-0 output).
  always_comb begin
    if (p_q[48]) begin
      y_o = 8'd0;                                  // v < 0: r <= 0
    end else if (|p_q[47:9] || (&p_q[8:1] && p_q[0])) begin
      y_o = 8'd255;                                // r >= 256
    end else begin
      y_o = p_q[8:1] + {7'd0, p_q[0]};
    end
  end

  assign busy_o = (state_q != StIdle);
  assign done_o = done_q;
endmodule

`default_nettype wire
