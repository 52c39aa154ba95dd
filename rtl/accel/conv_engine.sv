// cnnfpga NP conv engine: one valid, stride-1 convolution layer with bias, requantisation,
// ReLU clamp and optional fused 2x2 max-pool, bit-exact with firmware::numerics::conv2d.
//
// Dataflow: Lanes output channels ("a group") are computed at once. For each group the engine
// loads the lanes' biases, multipliers, shifts and k*k*cin weights into local registers and
// buffers, then streams, for every output pixel and every window of it, the k kernel rows
// (k*cin contiguous bytes each, HWC) through all lanes: one activation byte per cycle is
// broadcast to the Lanes MACs. With pooling the four windows' accumulators are max-combined
// and requantised once (requantisation is monotonic). A shared bit-serial requantiser and a
// one-byte-per-output writer work on pixel n while the MACs compute pixel n+1.
//
// Ports:
//  - register slave (CPU side): one access at a time, reg_ready_o one cycle after reg_valid_i
//    (one wait state), read data valid with reg_ready_o; byte offsets from accel_pkg (CONV_*).
//  - memory master (PicoRV32 native): mem_valid_o held with stable address/data until
//    mem_ready_i; one outstanding transfer; any number of wait states; reads have
//    mem_wstrb_o = 0.
//
// Reset: synchronous, active low (rst_ni, the SoC convention), on control state only; datapath registers
// are not reset. Parameters default to the generated accel_pkg values.
`default_nettype none

module conv_engine #(
  parameter int unsigned Lanes     = accel_pkg::LANES,
  parameter int unsigned KMax      = accel_pkg::KMAX,
  parameter int unsigned DimMax    = accel_pkg::DIM_MAX,
  parameter int unsigned WbufDepth = accel_pkg::WBUF_DEPTH,
  parameter int unsigned FifoDepth = accel_pkg::FETCH_FIFO_DEPTH,
  parameter int unsigned AddrBits  = 32   // internal pointer width (18 is enough for the UP5K SoC)
) (
  input  wire logic                  clk_i,
  input  wire logic                  rst_ni,
  // register slave
  input  wire logic                  reg_valid_i,
  input  wire logic                  reg_we_i,
  input  wire logic [accel_pkg::CONV_AW-1:0]    reg_addr_i,
  input  wire logic [31:0]           reg_wdata_i,
  output logic      [31:0]           reg_rdata_o,
  output logic                       reg_ready_o,
  // memory master
  output logic                       mem_valid_o,
  input  wire logic                  mem_ready_i,
  output logic      [31:0]           mem_addr_o,
  output logic      [31:0]           mem_wdata_o,
  output logic      [3:0]            mem_wstrb_o,
  input  wire logic [31:0]           mem_rdata_i,
  // status (for an interrupt or an LED)
  output logic                       busy_o
);
  localparam int unsigned DimBits  = $clog2(DimMax + 1);
  localparam int unsigned WbufBits = $clog2(WbufDepth);
  localparam int unsigned LaneBits = Lanes > 1 ? $clog2(Lanes) : 1;
  // The per-channel parameter record (accel_pkg::CONV_PARAM_*, firmware::accel::pack_conv_params):
  // PrmBytes = 8 bytes, bias 0..3, multiplier 4..5, shift 6, pad 7 (checked below).
  localparam int unsigned PrmBytes = accel_pkg::CONV_PARAM_BYTES;
  localparam int unsigned PrmLg    = $clog2(PrmBytes);
  localparam logic [31:0] PrmMult  = accel_pkg::CONV_PARAM_MULT_OFFSET;
  localparam logic [31:0] PrmShift = accel_pkg::CONV_PARAM_SHIFT_OFFSET;
  localparam int unsigned PBits    = $clog2(PrmBytes * Lanes + 1);  // byte index in a parameter segment
  // segment lengths: k*cin and k*k*cin <= WbufDepth, parameter segments <= PrmBytes*Lanes bytes
  localparam int unsigned LenBits  = $clog2((WbufDepth > PrmBytes * Lanes ? WbufDepth : PrmBytes * Lanes) + 1);

  typedef enum logic [1:0] {StIdle, StRun, StDrain} state_e;

  // ------------------------------------------------------------------ registers
  // Configuration registers are write-only (they read 0) and hold what the address generator
  // walks with, derived by the driver (firmware::accel::conv_shape_regs): output dims after pooling,
  // the row stride iw*cin and the segment lengths k*cin, k*k*cin. No multiplier in here.
  logic [AddrBits-1:0] in_addr_q, w_addr_q, param_addr_q, out_addr_q;
  logic [AddrBits-1:0] row_stride_q;
  logic [DimBits-1:0]  oh_q, ow_q, cin_q, cout_q;
  logic [LenBits-1:0]  kc_q, kkc_q;
  logic [3:0]          k_q;
  logic                pool_q;
  logic                done_q, done_d, err_q, err_d;

  logic reg_ready_q, reg_fire, reg_wr, start;
  logic [31:0] reg_rdata_q, reg_rdata_d;

  state_e state_q, state_d;
  logic   busy;
  assign busy   = state_q != StIdle;
  assign busy_o = busy;

  assign reg_fire = reg_valid_i && reg_ready_q;
  assign reg_wr   = reg_fire && reg_we_i && !busy;   // configuration is frozen while busy
  assign start    = reg_wr && reg_addr_i == accel_pkg::CONV_CTRL && reg_wdata_i[accel_pkg::CONV_CTRL_START_LSB];
  assign reg_ready_o = reg_ready_q;
  assign reg_rdata_o = reg_rdata_q;

  always_comb begin
    unique case (reg_addr_i)
      accel_pkg::CONV_STATUS:     reg_rdata_d = 32'({err_q, done_q, busy});
      accel_pkg::CONV_HWCFG:      reg_rdata_d = (32'(Lanes) << accel_pkg::CONV_HWCFG_LANES_LSB)
                                   | (32'(KMax) << accel_pkg::CONV_HWCFG_KMAX_LSB)
                                   | (32'(WbufBits) << accel_pkg::CONV_HWCFG_WBUF_LOG2_LSB);
      default:         reg_rdata_d = 32'd0;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      reg_ready_q  <= 1'b0;
    end else begin
      reg_ready_q <= reg_valid_i && !reg_ready_q;
    end
  end

  // Configuration: no reset (a START after reset with nothing written is rejected or runs
  // garbage; the driver always writes every register before START).
  always_ff @(posedge clk_i) begin
    if (reg_wr) begin
      unique case (reg_addr_i)
        accel_pkg::CONV_IN_ADDR:    in_addr_q    <= reg_wdata_i[AddrBits-1:0];
        accel_pkg::CONV_W_ADDR:     w_addr_q     <= reg_wdata_i[AddrBits-1:0];
        accel_pkg::CONV_PARAM_ADDR: param_addr_q <= reg_wdata_i[AddrBits-1:0];
        accel_pkg::CONV_OUT_ADDR:   out_addr_q   <= reg_wdata_i[AddrBits-1:0];
        accel_pkg::CONV_ROW_STRIDE: row_stride_q <= reg_wdata_i[AddrBits-1:0];
        accel_pkg::CONV_OH:         oh_q         <= reg_wdata_i[DimBits-1:0];
        accel_pkg::CONV_OW:         ow_q         <= reg_wdata_i[DimBits-1:0];
        accel_pkg::CONV_CIN:        cin_q        <= reg_wdata_i[DimBits-1:0];
        accel_pkg::CONV_COUT:       cout_q       <= reg_wdata_i[DimBits-1:0];
        accel_pkg::CONV_KC:         kc_q         <= reg_wdata_i[LenBits-1:0];
        accel_pkg::CONV_KKC:        kkc_q        <= reg_wdata_i[LenBits-1:0];
        accel_pkg::CONV_K:          k_q          <= reg_wdata_i[3:0];
        accel_pkg::CONV_FLAGS:      pool_q       <= reg_wdata_i[accel_pkg::CONV_FLAGS_POOL_LSB];
        default: ;
      endcase
    end
  end

  always_ff @(posedge clk_i) begin
    reg_rdata_q <= reg_rdata_d;
  end

  // A START with a zero dimension or buffers too small is rejected (DONE|ERR, no bus access).
  logic bad_cfg;
  always_comb begin
    bad_cfg = k_q == 4'd0 || 32'(k_q) > KMax || cin_q == '0 || cout_q == '0
           || oh_q == '0 || ow_q == '0 || kc_q == '0 || kkc_q == '0
           || 32'(kkc_q) > WbufDepth;
  end

  // ------------------------------------------------------------------ address generator + fetch
  logic                seg_valid, seg_ready;
  logic [AddrBits-1:0] seg_addr;
  logic [LenBits-1:0]  seg_len;
  logic [conv_pkg::TAG_W-1:0] seg_tag;
  logic                run_start;

  conv_agen #(.Lanes(Lanes), .AddrBits(AddrBits), .DimBits(DimBits), .LenBits(LenBits)) u_agen (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .start_i      (run_start),
    .in_addr_i    (in_addr_q),
    .w_addr_i     (w_addr_q),
    .param_addr_i (param_addr_q),
    .cin_i        (cin_q),
    .cout_i       (cout_q),
    .k_i          (k_q),
    .pool_i       (pool_q),
    .oh_i         (oh_q),
    .ow_i         (ow_q),
    .row_stride_i (row_stride_q),
    .kc_i         (kc_q),
    .kkc_i        (kkc_q),
    .seg_valid_o  (seg_valid),
    .seg_ready_i  (seg_ready),
    .seg_addr_o   (seg_addr),
    .seg_len_o    (seg_len),
    .seg_tag_o    (seg_tag)
  );

  logic                rd_req, rd_gnt, rd_done, wr_req, wr_gnt, wr_done;
  logic [AddrBits-1:0] rd_addr, wr_addr;
  logic [7:0]          wr_data;
  logic [3:0]          wr_strb;
  logic                b_valid, b_first, b_last, b_pop;
  logic [7:0]          b_byte;
  logic [conv_pkg::TAG_W-1:0] b_tag;
  logic [2:0]          b_kind;
  assign b_kind = b_tag[conv_pkg::TAG_KIND +: 3];

  conv_fetch #(.AddrBits(AddrBits), .FifoDepth(FifoDepth), .LenBits(LenBits)) u_fetch (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .clear_i      (start),
    .seg_valid_i  (seg_valid),
    .seg_ready_o  (seg_ready),
    .seg_addr_i   (seg_addr),
    .seg_len_i    (seg_len),
    .seg_tag_i    (seg_tag),
    .rd_req_o     (rd_req),
    .rd_addr_o    (rd_addr),
    .rd_gnt_i     (rd_gnt),
    .rd_done_i    (rd_done),
    .rd_data_i    (mem_rdata_i),
    .byte_valid_o (b_valid),
    .byte_o       (b_byte),
    .byte_first_o (b_first),
    .byte_last_o  (b_last),
    .byte_tag_o   (b_tag),
    .byte_pop_i   (b_pop)
  );

  // ------------------------------------------------------------------ bus arbiter
  // One outstanding transfer; writes (rare, they free the requantiser) win over reads.
  logic                mem_valid_q, mem_valid_d, mem_we_q, mem_we_d;
  logic [AddrBits-1:0] mem_addr_q, mem_addr_d;
  logic [7:0]          mem_wdata_q, mem_wdata_d;   // conv_post writes one byte, replicated
  logic [3:0]          mem_wstrb_q, mem_wstrb_d;
  logic                can_issue;

  always_comb begin
    can_issue   = !mem_valid_q || mem_ready_i;
    wr_gnt      = can_issue && wr_req;
    rd_gnt      = can_issue && !wr_req && rd_req;
    rd_done     = mem_valid_q && mem_ready_i && !mem_we_q;
    wr_done     = mem_valid_q && mem_ready_i && mem_we_q;
    mem_valid_d = can_issue ? (wr_req || rd_req) : mem_valid_q;
    mem_we_d    = mem_we_q;
    mem_addr_d  = mem_addr_q;
    mem_wdata_d = mem_wdata_q;
    mem_wstrb_d = mem_wstrb_q;
    if (wr_gnt) begin
      mem_we_d    = 1'b1;
      mem_addr_d  = wr_addr;
      mem_wdata_d = wr_data;
      mem_wstrb_d = wr_strb;
    end else if (rd_gnt) begin
      mem_we_d    = 1'b0;
      mem_addr_d  = rd_addr;
      mem_wstrb_d = 4'd0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      mem_valid_q <= 1'b0;
    end else begin
      mem_valid_q <= mem_valid_d;
    end
  end

  always_ff @(posedge clk_i) begin
    mem_we_q    <= mem_we_d;
    mem_addr_q  <= mem_addr_d;
    mem_wdata_q <= mem_wdata_d;
    mem_wstrb_q <= mem_wstrb_d;
  end

  assign mem_valid_o = mem_valid_q;
  assign mem_addr_o  = 32'(mem_addr_q);
  assign mem_wdata_o = {4{mem_wdata_q}};
  assign mem_wstrb_o = mem_wstrb_q;

  // ------------------------------------------------------------------ consumer
  // Per-lane parameters, lane j at [W*j +: W] (flat vectors: yosys 0.23).
  // (multiplier and shift go to conv_post's parameter RAM, through a 16-bit staging register)
  logic [Lanes*32-1:0]    bias_q, bias_d;
  logic [15:0]            mstage_q, mstage_d;
  logic                   prm_we;
  logic [5:0]             prm_shift;
  logic [PBits-1:0]       pcnt_q, pcnt_d, pidx;
  logic [LaneBits-1:0]    wlane_q, wlane_d;
  logic [WbufBits-1:0]    widx_q, widx_d, wb_addr;
  logic [Lanes-1:0]       wb_we;
  logic [DimBits-1:0]     crem_q, crem_d, nl_q, nl_d;
  logic                   grp_start;

  // MAC pipeline flags
  logic       s1_valid_q, s1_valid_d, s1_first_q, s1_first_d, s1_wlast_q, s1_wlast_d;
  logic       s1_pfirst_q, s1_pfirst_d, s1_plast_q, s1_plast_d;
  logic [7:0] s1_act_q, s1_act_d;
  logic       s2_valid_q, s2_first_q, s2_wlast_q, s2_pfirst_q, s2_plast_q;
  logic       s3_valid_q, s3_wlast_q, s3_pfirst_q, s3_plast_q;
  logic       res_valid_q, res_valid_d, res_release, post_idle;

  logic grp_idle, pix_end_byte, pix_end_busy, can_take;
  always_comb begin
    grp_idle     = !s1_valid_q && !s2_valid_q && !s3_valid_q && !res_valid_q && post_idle;
    pix_end_byte = b_kind == conv_pkg::KIND_ACT && b_last && b_tag[conv_pkg::TAG_WIN_LAST] && b_tag[conv_pkg::TAG_PIX_LAST];
    pix_end_busy = res_valid_q || (s1_valid_q && s1_wlast_q && s1_plast_q)
                               || (s2_valid_q && s2_wlast_q && s2_plast_q)
                               || (s3_valid_q && s3_wlast_q && s3_plast_q);
    if (b_kind == conv_pkg::KIND_PARAM && b_first) can_take = grp_idle;
    else if (pix_end_byte)                 can_take = !pix_end_busy;
    else                                   can_take = 1'b1;
  end
  assign b_pop = state_q == StRun && b_valid && can_take;

  always_comb begin
    bias_d      = bias_q;
    mstage_d    = mstage_q;
    prm_we      = 1'b0;
    prm_shift   = b_byte == 8'd0 ? 6'd1 : (b_byte > 8'd47 ? 6'd47 : b_byte[5:0]);
    pcnt_d      = pcnt_q;
    wlane_d     = wlane_q;
    widx_d      = widx_q;
    crem_d      = crem_q;
    nl_d        = nl_q;
    grp_start   = 1'b0;
    wb_we       = '0;
    wb_addr     = widx_q;
    s1_valid_d  = 1'b0;
    s1_first_d  = 1'b0;
    s1_wlast_d  = 1'b0;
    s1_pfirst_d = b_tag[conv_pkg::TAG_PIX_FIRST];
    s1_plast_d  = b_tag[conv_pkg::TAG_PIX_LAST];
    s1_act_d    = b_byte;
    pidx        = b_first ? '0 : pcnt_q;

    if (run_start) begin
      crem_d = cout_q;
    end
    if (b_pop) begin
      pcnt_d = pidx + 1'b1;
      unique case (b_kind)
        conv_pkg::KIND_PARAM: begin
          if (b_first) begin
            grp_start = 1'b1;
            nl_d      = crem_q > DimBits'(Lanes) ? DimBits'(Lanes) : crem_q;
            crem_d    = crem_q - nl_d;
          end
          // lane j's PrmBytes bytes: bias 0..3, multiplier 4..5, shift 6 (clamped into 1..47), pad 7
          for (int j = 0; j < 32'(Lanes); j++) begin
            if ((32'(pidx) >> PrmLg) == j && !pidx[2]) begin
              bias_d[32*j + 8*32'(pidx[1:0]) +: 8] = b_byte;
            end
          end
          if (pidx[PrmLg-1:1] == PrmMult[PrmLg-1:1]) mstage_d[8*32'(pidx[0]) +: 8] = b_byte;
          prm_we = pidx[PrmLg-1:0] == PrmShift[PrmLg-1:0];  // shift byte: {shift, multiplier} to lane pidx >> PrmLg
          wlane_d = '0;
        end
        conv_pkg::KIND_WEIGHT: begin
          wb_addr = b_first ? '0 : widx_q;
          widx_d  = wb_addr + 1'b1;
          for (int j = 0; j < 32'(Lanes); j++) begin
            wb_we[j] = 32'(wlane_q) == j;
          end
          if (b_last) wlane_d = wlane_q + 1'b1;
        end
        conv_pkg::KIND_ACT: begin
          wb_addr    = (b_first && b_tag[conv_pkg::TAG_WIN_FIRST]) ? '0 : widx_q;
          widx_d     = wb_addr + 1'b1;
          s1_valid_d = 1'b1;
          s1_first_d = b_first && b_tag[conv_pkg::TAG_WIN_FIRST];
          s1_wlast_d = b_last && b_tag[conv_pkg::TAG_WIN_LAST];
        end
        default: ;
      endcase
    end
    res_valid_d = (res_valid_q && !res_release) || (s3_valid_q && s3_wlast_q && s3_plast_q);
  end

  logic [Lanes*32-1:0]    res_all;
  for (genvar j = 0; j < 32'(Lanes); j++) begin : g_lane
    logic [31:0] res;
    conv_lane #(.WbufDepth(WbufDepth)) u_lane (
      .clk_i          (clk_i),
      .wb_we_i        (wb_we[j]),
      .wb_addr_i      (wb_addr),
      .wb_wdata_i     (b_byte),
      .s1_valid_i     (s1_valid_q),
      .s1_act_i       (s1_act_q),
      .s2_first_i     (s2_first_q),
      .s3_valid_i     (s3_valid_q),
      .s3_win_last_i  (s3_wlast_q),
      .s3_pix_first_i (s3_pfirst_q),
      .s3_pix_last_i  (s3_plast_q),
      .bias_i         (bias_q[32*j +: 32]),
      .res_o          (res)
    );
    assign res_all[32*j +: 32] = res;
  end

  conv_post #(.Lanes(Lanes), .AddrBits(AddrBits), .DimBits(DimBits)) u_post (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .run_start_i   (run_start),
    .grp_start_i   (grp_start),
    .out_addr_i    (out_addr_q),
    .cout_i        (cout_q),
    .nl_i          (nl_q),
    .res_valid_i   (res_valid_q),
    .res_i         (res_all),
    .prm_we_i      (prm_we),
    .prm_wa_i      (LaneBits'(pidx >> 3)),
    .prm_wdata_i   ({prm_shift, mstage_q}),
    .res_release_o (res_release),
    .idle_o        (post_idle),
    .wr_req_o      (wr_req),
    .wr_addr_o     (wr_addr),
    .wr_data_o     (wr_data),
    .wr_strb_o     (wr_strb),
    .wr_gnt_i      (wr_gnt),
    .wr_done_i     (wr_done)
  );

  // ------------------------------------------------------------------ control FSM
  logic end_seen;
  assign end_seen = b_pop && b_last && b_tag[conv_pkg::TAG_LAST_SEG];

  always_comb begin
    state_d   = state_q;
    done_d    = done_q;
    err_d     = err_q;
    run_start = 1'b0;

    unique case (state_q)
      StIdle: begin
        if (start) begin
          done_d   = bad_cfg;
          err_d    = bad_cfg;
          if (!bad_cfg) begin
            state_d   = StRun;
            run_start = 1'b1;
          end
        end
      end
      StRun: begin
        if (end_seen) state_d = StDrain;
      end
      StDrain: begin
        if (grp_idle && !mem_valid_q) begin
          state_d = StIdle;
          done_d  = 1'b1;
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q     <= StIdle;
      done_q      <= 1'b0;
      err_q       <= 1'b0;
      s1_valid_q  <= 1'b0;
      s2_valid_q  <= 1'b0;
      s3_valid_q  <= 1'b0;
      res_valid_q <= 1'b0;
    end else begin
      state_q     <= state_d;
      done_q      <= done_d;
      err_q       <= err_d;
      s1_valid_q  <= s1_valid_d;
      s2_valid_q  <= s1_valid_q;
      s3_valid_q  <= s2_valid_q;
      res_valid_q <= res_valid_d;
    end
  end

  always_ff @(posedge clk_i) begin
    bias_q       <= bias_d;
    mstage_q     <= mstage_d;
    pcnt_q       <= pcnt_d;
    wlane_q      <= wlane_d;
    widx_q       <= widx_d;
    crem_q       <= crem_d;
    nl_q         <= nl_d;
    s1_first_q   <= s1_first_d;
    s1_wlast_q   <= s1_wlast_d;
    s1_pfirst_q  <= s1_pfirst_d;
    s1_plast_q   <= s1_plast_d;
    s1_act_q     <= s1_act_d;
    s2_first_q   <= s1_first_q;
    s2_wlast_q   <= s1_wlast_q;
    s2_pfirst_q  <= s1_pfirst_q;
    s2_plast_q   <= s1_plast_q;
    s3_wlast_q   <= s2_wlast_q;
    s3_pfirst_q  <= s2_pfirst_q;
    s3_plast_q   <= s2_plast_q;
  end

  initial begin
    if (Lanes < 1 || Lanes > 64) $error("conv_engine: Lanes must be in 1..64");
    if (KMax < 1 || KMax > 15) $error("conv_engine: KMax must be in 1..15");
    if (DimMax < KMax || DimMax > 32767) $error("conv_engine: DimMax must be in KMax..32767");
    if (WbufDepth < 2 || (WbufDepth & (WbufDepth - 1)) != 0 || WbufDepth > 32768)
      $error("conv_engine: WbufDepth must be a power of two in 2..32768");
    if (AddrBits < 8 || AddrBits > 32) $error("conv_engine: AddrBits must be in 8..32");
    if (PrmBytes != 8 || accel_pkg::CONV_PARAM_BIAS_OFFSET != 0 || PrmMult != 4 || PrmShift != 6)
      $error("conv_engine: the parameter decoder takes the 8-byte record {bias 0..3, multiplier 4..5, shift 6, pad 7}; accel_pkg::CONV_PARAM_* say otherwise");
  end
endmodule : conv_engine

`default_nettype wire
