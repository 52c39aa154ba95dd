// One MAC lane: weight buffer, u8 x i8 multiply, i32 accumulate (wrapping, like
// numerics::conv_acc), running maximum over the windows of a pooled pixel, and the result
// register read by the requantiser.
//
// Pipeline (the control flags arrive with the stage they belong to, from conv_engine):
//   s0: weight buffer read at addr_i (the activation travels alongside in conv_engine)
//   s1: product of the activation and the weight           -> prod_q
//   s2: acc = (first ? bias : acc) + prod (product register and accumulator are one SB_MAC16)
//   s3: at a window's end fold acc into the maximum; at a pixel's end copy it to res_o.
//
// No reset: every register here is datapath, qualified by the engine's valid flags.
`default_nettype none

module conv_lane #(
  parameter int unsigned WbufDepth = 512
) (
  input  wire logic                         clk_i,
  // weight buffer port (write while loading, read while computing)
  input  wire logic                         wb_we_i,
  input  wire logic [$clog2(WbufDepth)-1:0] wb_addr_i,
  input  wire logic [7:0]                   wb_wdata_i,
  // stage 1
  input  wire logic                         s1_valid_i,
  input  wire logic [7:0]                   s1_act_i,
  // stage 2
  input  wire logic                         s2_first_i,     // first product of a window
  // stage 3 (acc holds a whole window when s3_valid_i && s3_win_last_i)
  input  wire logic                         s3_valid_i,
  input  wire logic                         s3_win_last_i,  // last product of a window
  input  wire logic                         s3_pix_first_i, // window is the pixel's first
  input  wire logic                         s3_pix_last_i,  // window is the pixel's last
  input  wire logic [31:0]                  bias_i,
  output logic      [31:0]                  res_o
);
  logic [7:0]         w;
  logic signed [15:0] a_q, a_d, b_q, b_d;

  logic signed [31:0] acc_q, acc_d, sum;
  logic [31:0]        best_q, best_d, res_q, res_d, win_max;

  conv_wbuf #(.Depth(WbufDepth)) u_wbuf (
    .clk_i  (clk_i),
    .we_i   (wb_we_i),
    .addr_i (wb_addr_i),
    .wdata_i(wb_wdata_i),
    .rdata_o(w)
  );

  always_comb begin
    // u8 x i8 fits 16 signed bits; written as multiply, then `(first ? bias : acc) + prod`
    // so that yosys maps product register and accumulator into one SB_MAC16 (the bias
    // reaches it through the C/D inputs, the only LUTs are that 32-bit multiplexer).
    // Outside valid beats the activation is 0, so the accumulator may add every cycle (no
    // enable: an enable would keep yosys from folding the accumulator into the SB_MAC16).
    a_d    = $signed({8'd0, s1_valid_i ? s1_act_i : 8'd0});
    b_d    = $signed({{8{w[7]}}, w});
    // all operands signed, so the 16x16 product is sign-extended to 32 bits
    sum    = (s2_first_i ? $signed(bias_i) : acc_q) + a_q * b_q;
    acc_d  = sum;
    win_max = (s3_pix_first_i || acc_q > $signed(best_q)) ? acc_q : best_q;
    best_d = (s3_valid_i && s3_win_last_i) ? win_max : best_q;
    res_d  = (s3_valid_i && s3_win_last_i && s3_pix_last_i) ? win_max : res_q;
  end

  always_ff @(posedge clk_i) begin
    a_q    <= a_d;
    b_q    <= b_d;
    acc_q  <= acc_d;
    best_q <= best_d;
    res_q  <= res_d;
  end

  assign res_o = res_q;
endmodule : conv_lane

`default_nettype wire
