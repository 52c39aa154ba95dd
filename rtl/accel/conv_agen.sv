// Address generator: walks one layer and emits the byte segments the consumer will need, in
// consumption order, each with a tag:
//
//   for each group of up to Lanes output channels:
//     the lanes' parameters (CONV_PARAM_BYTES*nl bytes), then nl weight blocks of k*k*cin;
//     for oy, ox (output pixels, pooled if pool), for py, px < P (P = 2 if pool else 1),
//       for ky < k: the kernel row at input (oy*P+py+ky, ox*P+px), k*cin contiguous bytes (HWC).
//
// All addresses advance by additions only (the products iw*cin, k*cin, k*k*cin come from
// the driver, through the engine's registers).
//
// Reset: synchronous, active low (the SoC convention), on control state only.
`default_nettype none

module conv_agen #(
  parameter int unsigned Lanes    = 5,
  parameter int unsigned AddrBits = 32,
  parameter int unsigned DimBits  = 10,
  parameter int unsigned LenBits  = 10   // segment lengths (>= bits of k*k*cin and 4*Lanes)
) (
  input  wire logic                clk_i,
  input  wire logic                rst_ni,
  input  wire logic                start_i,   // pulse: configuration below is valid and stays so
  // layer configuration
  input  wire logic [AddrBits-1:0] in_addr_i,
  input  wire logic [AddrBits-1:0] w_addr_i,
  input  wire logic [AddrBits-1:0] param_addr_i,  // CONV_PARAM_BYTES per output channel
  input  wire logic [DimBits-1:0]  cin_i,
  input  wire logic [DimBits-1:0]  cout_i,
  input  wire logic [3:0]          k_i,
  input  wire logic                pool_i,
  input  wire logic [DimBits-1:0]  oh_i,      // output rows (after pooling), >= 1
  input  wire logic [DimBits-1:0]  ow_i,      // output columns (after pooling), >= 1
  input  wire logic [AddrBits-1:0] row_stride_i, // iw*cin
  input  wire logic [LenBits-1:0]  kc_i,      // k*cin: bytes of one kernel row
  input  wire logic [LenBits-1:0]  kkc_i,     // k*k*cin: weight bytes per lane
  // segment output
  output logic                     seg_valid_o,
  input  wire logic                seg_ready_i,
  output logic [AddrBits-1:0]      seg_addr_o,
  output logic [LenBits-1:0]       seg_len_o,
  output logic [conv_pkg::TAG_W-1:0] seg_tag_o
);
  // log2 of the parameter record's size (accel_pkg::CONV_PARAM_BYTES, a power of two)
  localparam int unsigned PrmLg = $clog2(accel_pkg::CONV_PARAM_BYTES);
  typedef enum logic [2:0] {
    StIdle, StParam, StWeight, StAct
  } state_e;

  state_e              state_q, state_d;
  logic                out_valid_q, out_valid_d;
  logic [AddrBits-1:0] out_addr_q, out_addr_d;
  logic [LenBits-1:0]  out_len_q, out_len_d;
  logic [conv_pkg::TAG_W-1:0] out_tag_q, out_tag_d;

  logic [DimBits-1:0]  rem_q, rem_d;       // output channels not yet started
  logic [DimBits-1:0]  c0_q, c0_d;         // first output channel of the group
  logic [DimBits-1:0]  lane_q, lane_d;     // weight block index within the group
  logic [DimBits-1:0]  oy_q, oy_d, ox_q, ox_d;
  logic                py_q, py_d, px_q, px_d;
  logic [3:0]          ky_q, ky_d;
  logic [AddrBits-1:0] w_ptr_q, w_ptr_d;
  logic [AddrBits-1:0] row_q, row_d, pix_q, pix_d, win_q, win_d, seg_q, seg_d;

  logic [DimBits-1:0]  nl;                 // lanes used by the current group
  logic                last_group;
  logic                win_last, pix_last, pix_first, row_end, col_end, layer_end;

  // The one address adder: sum = op_a + op_b, operands picked by the state (one segment per
  // cycle needs one addition).
  logic [AddrBits-1:0] op_a, op_b, sum;

  always_comb begin
    win_last   = ky_q == k_i - 4'd1;
    pix_first  = !py_q && !px_q;
    pix_last   = !pool_i || (py_q && px_q);
    row_end    = ox_q == ow_i - 1'b1;
    col_end    = oy_q == oh_i - 1'b1;
    last_group = rem_q <= DimBits'(Lanes);
    nl         = last_group ? rem_q : DimBits'(Lanes);
    layer_end  = last_group && col_end && row_end && pix_last && win_last;

    op_a = seg_q;
    op_b = row_stride_i;
    unique case (state_q)
      StParam:  begin op_a = param_addr_i; op_b = AddrBits'({c0_q, PrmLg'(0)}); end
      StWeight: begin op_a = w_ptr_q;      op_b = AddrBits'(kkc_i); end
      default: begin
        if (!win_last) begin
          op_a = seg_q;
          op_b = row_stride_i;
        end else if (pool_i && !px_q) begin
          op_a = win_q;
          op_b = AddrBits'(cin_i);
        end else if (pool_i && !py_q) begin
          op_a = pix_q;
          op_b = row_stride_i;
        end else if (!row_end) begin
          op_a = pix_q;
          op_b = pool_i ? AddrBits'({cin_i, 1'b0}) : AddrBits'(cin_i);
        end else begin
          op_a = row_q;
          op_b = pool_i ? row_stride_i << 1 : row_stride_i;
        end
      end
    endcase
    sum = op_a + op_b;
  end

  assign seg_valid_o = out_valid_q;
  assign seg_addr_o  = out_addr_q;
  assign seg_len_o   = out_len_q;
  assign seg_tag_o   = out_tag_q;

  logic emit;   // the output register is free (or being taken) this cycle
  assign emit = !out_valid_q || seg_ready_i;

  always_comb begin
    state_d     = state_q;
    out_valid_d = out_valid_q && !seg_ready_i;
    out_addr_d  = out_addr_q;
    out_len_d   = out_len_q;
    out_tag_d   = out_tag_q;
    rem_d       = rem_q;
    c0_d        = c0_q;
    lane_d      = lane_q;
    oy_d        = oy_q;
    ox_d        = ox_q;
    py_d        = py_q;
    px_d        = px_q;
    ky_d        = ky_q;
    w_ptr_d     = w_ptr_q;
    row_d       = row_q;
    pix_d       = pix_q;
    win_d       = win_q;
    seg_d       = seg_q;

    unique case (state_q)
      StIdle: begin
        if (start_i) begin
          state_d = StParam;
          rem_d   = cout_i;
          c0_d    = '0;
          w_ptr_d = w_addr_i;
        end
      end
      StParam: begin
        if (emit) begin
          out_valid_d = 1'b1;
          out_addr_d  = sum;
          out_len_d   = LenBits'({nl, PrmLg'(0)});
          out_tag_d   = conv_pkg::TAG_W'(conv_pkg::KIND_PARAM);
          lane_d      = '0;
          state_d     = StWeight;
        end
      end
      StWeight: begin
        if (emit) begin
          out_valid_d = 1'b1;
          out_addr_d  = w_ptr_q;
          out_len_d   = kkc_i;
          out_tag_d   = conv_pkg::TAG_W'(conv_pkg::KIND_WEIGHT);
          w_ptr_d     = sum;
          lane_d      = lane_q + 1'b1;
          if (lane_q == nl - 1'b1) begin
            state_d = StAct;
            oy_d    = '0;
            ox_d    = '0;
            py_d    = 1'b0;
            px_d    = 1'b0;
            ky_d    = '0;
            row_d   = in_addr_i;
            pix_d   = in_addr_i;
            win_d   = in_addr_i;
            seg_d   = in_addr_i;
          end
        end
      end
      StAct: begin
        if (emit) begin
          out_valid_d = 1'b1;
          out_addr_d  = seg_q;
          out_len_d   = kc_i;
          out_tag_d   = {layer_end, pix_last, pix_first, win_last, ky_q == 4'd0,
                         conv_pkg::KIND_ACT};  // conv_pkg::TAG_* order
          seg_d       = sum;
          if (!win_last) begin
            ky_d = ky_q + 4'd1;
          end else begin
            ky_d  = '0;
            win_d = sum;
            if (pool_i && !px_q) begin            // (py, 0) -> (py, 1)
              px_d = 1'b1;
            end else if (pool_i && !py_q) begin   // (0, 1) -> (1, 0)
              px_d = 1'b0;
              py_d = 1'b1;
            end else begin                        // next output pixel
              px_d  = 1'b0;
              py_d  = 1'b0;
              pix_d = sum;
              if (!row_end) begin
                ox_d = ox_q + 1'b1;
              end else begin
                ox_d  = '0;
                oy_d  = oy_q + 1'b1;
                row_d = sum;
                if (col_end) begin                // group done
                  rem_d   = rem_q - nl;
                  c0_d    = c0_q + DimBits'(Lanes);
                  state_d = last_group ? StIdle : StParam;
                end
              end
            end
          end
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q     <= StIdle;
      out_valid_q <= 1'b0;
    end else begin
      state_q     <= state_d;
      out_valid_q <= out_valid_d;
    end
  end

  always_ff @(posedge clk_i) begin
    out_addr_q <= out_addr_d;
    out_len_q  <= out_len_d;
    out_tag_q  <= out_tag_d;
    rem_q      <= rem_d;
    c0_q       <= c0_d;
    lane_q     <= lane_d;
    oy_q       <= oy_d;
    ox_q       <= ox_d;
    py_q       <= py_d;
    px_q       <= px_d;
    ky_q       <= ky_d;
    w_ptr_q    <= w_ptr_d;
    row_q      <= row_d;
    pix_q      <= pix_d;
    win_q      <= win_d;
    seg_q      <= seg_d;
  end

  initial begin
    if (Lanes < 1 || Lanes >= (1 << DimBits)) $error("conv_agen: Lanes out of range");
  end
endmodule : conv_agen

`default_nettype wire
