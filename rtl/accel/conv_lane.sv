// One MAC lane: weight buffer, u8 x i8 multiply, i32 accumulate (wrapping, like
// numerics::conv_acc), running maximum over the windows of a pooled pixel, and the result
// register read by the requantiser.
//
// Pipeline (the control flags arrive with the stage they belong to, from conv_engine):
//   s0: weight buffer read at addr_i (the activation travels alongside in conv_engine)
//   s1: product of the activation and the weight           -> prod_q
//   s2: acc = (first ? bias : acc) + prod; at a window's end fold it into the maximum; at a
//       pixel's end copy the maximum to res_o.
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
  input  wire logic                         s2_valid_i,
  input  wire logic                         s2_first_i,     // first product of a window
  input  wire logic                         s2_win_last_i,  // last product of a window
  input  wire logic                         s2_pix_first_i, // window is the pixel's first
  input  wire logic                         s2_pix_last_i,  // window is the pixel's last
  input  wire logic [31:0]                  bias_i,
  output logic      [31:0]                  res_o
);
  logic [7:0]         w;
  logic signed [16:0] prod_q, prod_d;
  logic [31:0]        acc_q, acc_d, best_q, best_d, res_q, res_d;
  logic [31:0]        sum, win_max;

  conv_wbuf #(.Depth(WbufDepth)) u_wbuf (
    .clk_i  (clk_i),
    .we_i   (wb_we_i),
    .addr_i (wb_addr_i),
    .wdata_i(wb_wdata_i),
    .rdata_o(w)
  );

  always_comb begin
    prod_d = s1_valid_i ? $signed({1'b0, s1_act_i}) * $signed(w) : prod_q;
    sum    = (s2_first_i ? bias_i : acc_q) + 32'(prod_q);
    win_max = (s2_pix_first_i || $signed(sum) > $signed(best_q)) ? sum : best_q;
    acc_d  = s2_valid_i ? sum : acc_q;
    best_d = (s2_valid_i && s2_win_last_i) ? win_max : best_q;
    res_d  = (s2_valid_i && s2_win_last_i && s2_pix_last_i) ? win_max : res_q;
  end

  always_ff @(posedge clk_i) begin
    prod_q <= prod_d;
    acc_q  <= acc_d;
    best_q <= best_d;
    res_q  <= res_d;
  end

  assign res_o = res_q;
endmodule : conv_lane

`default_nettype wire
