// P-layer engine: a pruned, power-of-two dense layer computed with shifts and adds only.
//
//   acc[o] = bias[o] + sum over row o's entries of ±(x[cursor] << (magnitude-1))
//   out[o] = final ? acc[o] (i32 LE) : requantize(acc[o], m[o], shift[o]) (u8)
//
// bit-exact with `firmware::numerics::dense_p_acc` + `requantize` (entry byte
// `[skip | sign | magnitude]`, code width CFG.bits in 2..=7).
//
// Data flow: weight-driven. The engine walks row o's entry bytes in order (row_len[o] of them,
// rows back to back) and, for each non-zero entry, fetches the one activation it selects. One
// accumulator, one pass over the entries, no on-chip copy of the input; the irregular access goes
// to the activations (read-only, small) instead of to the accumulators (see README.md for why not
// the paper's activation-driven flow).
//
// Micro-architecture: a decoder (D) turns entry bytes into (cursor, shift, sign) for the next
// non-zero weight and parks it in a one-deep slot; the fetch/accumulate side (X) takes the slot,
// issues the activation read and adds the shifted byte when the data returns, while D already
// decodes the next entry. The input word last read is kept (hit: no bus read). Steady state: one
// bus transaction (2 cycles on the SoC RAM) per non-zero weight plus one per 4 entry bytes.
//
// Bus master: PicoRV32 native (valid/ready, one transaction at a time, held until ready).
// Register slave: PicoRV32-native-style, offsets below (the SoC decodes the 4 KB block).
//
// Reset: synchronous, active low, control state only.
`default_nettype none

module pengine #(
  parameter int unsigned AddrW = 32  // significant bits of the pointer registers (upper bits 0)
) (
  input  wire logic        clk_i,
  input  wire logic        rst_ni,
  // register slave
  input  wire logic        reg_valid_i,
  output logic             reg_ready_o,
  input  wire logic [11:0] reg_addr_i,   // byte offset inside the engine's 4 KB block
  input  wire logic [31:0] reg_wdata_i,
  input  wire logic [3:0]  reg_wstrb_i,
  output logic [31:0]      reg_rdata_o,
  // bus master
  output logic             mem_valid_o,
  input  wire logic        mem_ready_i,
  output logic [31:0]      mem_addr_o,
  output logic [31:0]      mem_wdata_o,
  output logic [3:0]       mem_wstrb_o,
  input  wire logic [31:0] mem_rdata_i,
  // status for the SoC
  output logic             busy_o
);
  initial begin
    if (AddrW < 18 || AddrW > 32) begin
      $error("pengine: AddrW must be in 18..32 (the SoC RAM ends at 0x0004_0000)");
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Register file
  // ---------------------------------------------------------------------------------------------
  logic [2:0]       cfg_bits_q;
  logic             cfg_final_q;
  logic [15:0]      n_out_q, n_in_q;
  logic [AddrW-1:0] in_base_q, ent_base_q, len_base_q, bias_base_q, m_base_q, sh_base_q,
                    out_base_q;
  logic [1:0]       m_lg_q, sh_lg_q;        // log2 of the m / shift array strides in bytes
  logic [31:0]      cycles_q;
  logic             done_q, err_q;
  logic             start;

  logic reg_ready_q;
  logic reg_we;
  assign reg_we = reg_valid_i && !reg_ready_q && (reg_wstrb_i != 4'd0);
  assign start  = reg_we && (reg_addr_i[11:2] == accel_pkg::PENGINE_CTRL[11:2]) && reg_wdata_i[0]
                  && !busy_o;

  // ---------------------------------------------------------------------------------------------
  // Engine state
  // ---------------------------------------------------------------------------------------------
  typedef enum logic [3:0] {
    StIdle,
    StLen,     // read row_len[o]
    StBias,    // read bias[o]
    StBody,    // walk the row's entries
    StM,       // read m[o]
    StShift,   // read shift[o]
    StReq,     // serial requantise
    StWrite    // write out[o]
  } state_e;

  typedef enum logic [0:0] {
    KindEnt,
    KindIn
  } kind_e;

  state_e           state_q, state_d;
  logic [15:0]      o_q, o_d;               // current row
  logic [15:0]      rem_q, rem_d;           // entries of the row not yet decoded
  logic [15:0]      cursor_q, cursor_d;     // decoder's input index
  logic [AddrW-1:0] ent_ptr_q, ent_ptr_d;   // address of the next entry byte
  logic [31:0]      acc_q, acc_d;
  logic             err_d;

  // entry word buffer
  logic [31:0]      ent_buf_q, ent_buf_d;
  logic [AddrW-3:0] ent_wa_q, ent_wa_d;
  logic             ent_ok_q, ent_ok_d;
  // input word buffer
  logic [31:0]      in_buf_q, in_buf_d;
  logic [AddrW-3:0] in_wa_q, in_wa_d;
  logic             in_ok_q, in_ok_d;
  // decoded non-zero weight waiting for its activation
  logic             slot_ok_q, slot_ok_d;
  logic [15:0]      slot_cur_q, slot_cur_d;
  logic [5:0]       slot_sh_q, slot_sh_d;
  logic             slot_neg_q, slot_neg_d;
  // activation read in flight
  logic [1:0]       fl_byte_q, fl_byte_d;
  logic [5:0]       fl_sh_q, fl_sh_d;
  logic             fl_neg_q, fl_neg_d;
  // bus
  logic             valid_q, valid_d;
  logic [AddrW-1:0] addr_q, addr_d;
  logic [31:0]      wdata_q, wdata_d;
  logic [3:0]       wstrb_q, wstrb_d;
  kind_e            kind_q, kind_d;
  // requantiser
  logic             rq_start, rq_done;
  logic [15:0]      m_q, m_d;
  logic [7:0]       shift_q, shift_d;
  logic [7:0]       rq_y;
  logic             rq_busy_unused;
  logic [1:0]       reg_addr_unused;
  logic [31:0]      reg_wdata_unused;
  assign reg_addr_unused  = reg_addr_i[1:0];  // word registers: byte lanes ignored
  assign reg_wdata_unused = reg_wdata_i;      // pointer bits above AddrW are dropped

  logic retire;          // a transaction completes this cycle
  logic bus_free;        // a new transaction may be issued this cycle (valid next cycle)
  assign retire   = valid_q && mem_ready_i;
  assign bus_free = !valid_q || mem_ready_i;

  // ---- width helpers (explicit zero extension; yosys 0.23 has no parameter-width casts) ---------
  function automatic logic [AddrW-1:0] zext_addr(input logic [17:0] v);
    logic [AddrW-1:0] r;
    r        = '0;
    r[17:0]  = v;
    zext_addr = r;
  endfunction

  function automatic logic [31:0] zext32(input logic [AddrW-1:0] v);
    logic [31:0] r;
    r             = '0;
    r[AddrW-1:0]  = v;
    zext32 = r;
  endfunction

  // ---- address generator: base + (o << lg) -----------------------------------------------------
  function automatic logic [AddrW-1:0] elem_addr(input logic [AddrW-1:0] base,
                                                 input logic [15:0] idx, input logic [1:0] lg);
    logic [17:0] scaled;  // lg in 0..2 (strides 1, 2, 4 bytes)
    scaled = 18'({idx, 2'b00} >> (2'd2 - lg));
    elem_addr = base + zext_addr(scaled);
  endfunction

  function automatic logic [7:0] pick_byte(input logic [31:0] w, input logic [1:0] b);
    pick_byte = 8'(w >> {b, 3'b000});
  endfunction

  function automatic logic [15:0] pick_half(input logic [31:0] w, input logic a1);
    pick_half = a1 ? w[31:16] : w[15:0];
  endfunction

  // One shared element-address adder for the per-row arrays (selected by state).
  logic [AddrW-1:0] ea_base, ea_addr;
  logic [1:0]       ea_lg;
  always_comb begin
    ea_base = len_base_q;
    ea_lg   = 2'd1;
    unique case (state_q)
      StBias:  begin ea_base = bias_base_q; ea_lg = 2'd2;    end
      StM:     begin ea_base = m_base_q;    ea_lg = m_lg_q;  end
      StShift: begin ea_base = sh_base_q;   ea_lg = sh_lg_q; end
      StWrite: begin ea_base = out_base_q;  ea_lg = cfg_final_q ? 2'd2 : 2'd0; end
      default: begin ea_base = len_base_q;  ea_lg = 2'd1;    end
    endcase
    ea_addr = elem_addr(ea_base, o_q, ea_lg);
  end

  // ---- the shift-accumulate unit: one barrel shifter, one adder/subtractor ----------------------
  logic [7:0]  sa_x;
  logic [5:0]  sa_sh;
  logic        sa_neg;
  logic [31:0] sa_term, sa_sum;
  always_comb begin
    sa_term = (sa_sh[5]) ? 32'd0 : ({24'd0, sa_x} << sa_sh[4:0]);  // x << s mod 2^32
    sa_sum  = sa_neg ? (acc_q - sa_term) : (acc_q + sa_term);
  end

  // ---- entry decoder view (forwards an entry word arriving this cycle) --------------------------
  logic [31:0]      ent_word_v;
  logic             ent_hit;
  logic [7:0]       ent_byte;
  logic [7:0]       e_skip;
  logic             e_neg;
  logic [5:0]       e_mag;
  logic [16:0]      e_cur;     // cursor + skip
  always_comb begin
    ent_word_v = (retire && kind_q == KindEnt) ? mem_rdata_i : ent_buf_q;
    ent_hit    = (retire && kind_q == KindEnt)
                 ? (addr_q[AddrW-1:2] == ent_ptr_q[AddrW-1:2])
                 : (ent_ok_q && ent_wa_q == ent_ptr_q[AddrW-1:2]);
    ent_byte   = pick_byte(ent_word_v, ent_ptr_q[1:0]);
    e_skip     = ent_byte >> cfg_bits_q;
    e_neg      = ent_byte[cfg_bits_q - 3'd1];
    e_mag      = 6'(ent_byte & ((8'd1 << (cfg_bits_q - 3'd1)) - 8'd1));
    e_cur      = {1'b0, cursor_q} + {9'd0, e_skip};
  end

  // slot's activation address and whether the kept input word holds it
  logic [AddrW-1:0] slot_addr;
  logic             slot_hit;
  assign slot_addr = in_base_q + zext_addr({2'b00, slot_cur_q});
  assign slot_hit  = in_ok_q && (in_wa_q == slot_addr[AddrW-1:2]);

  // ---------------------------------------------------------------------------------------------
  // Next-state logic
  // ---------------------------------------------------------------------------------------------
  always_comb begin
    state_d    = state_q;
    o_d        = o_q;
    rem_d      = rem_q;
    cursor_d   = cursor_q;
    ent_ptr_d  = ent_ptr_q;
    acc_d      = acc_q;
    err_d      = err_q;
    ent_buf_d  = ent_buf_q;
    ent_wa_d   = ent_wa_q;
    ent_ok_d   = ent_ok_q;
    in_buf_d   = in_buf_q;
    in_wa_d    = in_wa_q;
    in_ok_d    = in_ok_q;
    slot_ok_d  = slot_ok_q;
    slot_cur_d = slot_cur_q;
    slot_sh_d  = slot_sh_q;
    slot_neg_d = slot_neg_q;
    fl_byte_d  = fl_byte_q;
    fl_sh_d    = fl_sh_q;
    fl_neg_d   = fl_neg_q;
    valid_d    = valid_q;
    addr_d     = addr_q;
    wdata_d    = wdata_q;
    wstrb_d    = wstrb_q;
    kind_d     = kind_q;
    m_d        = m_q;
    shift_d    = shift_q;
    rq_start   = 1'b0;
    sa_x       = pick_byte(in_buf_q, slot_addr[1:0]);
    sa_sh      = slot_sh_q;
    sa_neg     = slot_neg_q;

    if (retire) begin
      valid_d = 1'b0;
      wstrb_d = 4'd0;
    end

    unique case (state_q)
      StIdle: begin
        if (start) begin
          err_d     = 1'b0;
          o_d       = 16'd0;
          ent_ptr_d = ent_base_q;
          ent_ok_d  = 1'b0;
          in_ok_d   = 1'b0;
          slot_ok_d = 1'b0;
          state_d   = (n_out_q == 16'd0) ? StIdle : StLen;
        end
      end

      StLen: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          addr_d  = ea_addr;
        end else if (retire) begin
          rem_d    = pick_half(mem_rdata_i, addr_q[1]);
          cursor_d = 16'd0;
          state_d  = StBias;
        end
      end

      StBias: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          addr_d  = ea_addr;
        end else if (retire) begin
          acc_d   = mem_rdata_i;
          state_d = StBody;
        end
      end

      StBody: begin
        // X, part 1: an activation arrives -> shift-accumulate it, keep the word
        if (retire && kind_q == KindIn) begin
          in_buf_d = mem_rdata_i;
          in_wa_d  = addr_q[AddrW-1:2];
          in_ok_d  = 1'b1;
          sa_x     = pick_byte(mem_rdata_i, fl_byte_q);
          sa_sh    = fl_sh_q;
          sa_neg   = fl_neg_q;
          acc_d    = sa_sum;
        end
        if (retire && kind_q == KindEnt) begin
          ent_buf_d = mem_rdata_i;
          ent_wa_d  = addr_q[AddrW-1:2];
          ent_ok_d  = 1'b1;
        end

        if (slot_ok_q) begin
          // X, part 2: serve the slot from the kept word, or issue its read
          if (retire && kind_q == KindIn) begin
            // the accumulator is busy this cycle; a same-word slot hits next cycle
            if (addr_q[AddrW-1:2] != slot_addr[AddrW-1:2]) begin
              valid_d   = 1'b1;
              addr_d    = slot_addr;
              kind_d    = KindIn;
              fl_byte_d = slot_addr[1:0];
              fl_sh_d   = slot_sh_q;
              fl_neg_d  = slot_neg_q;
              slot_ok_d = 1'b0;
            end
          end else if (slot_hit) begin
            acc_d     = sa_sum;
            slot_ok_d = 1'b0;
          end else if (bus_free) begin
            valid_d   = 1'b1;
            addr_d    = slot_addr;
            kind_d    = KindIn;
            fl_byte_d = slot_addr[1:0];
            fl_sh_d   = slot_sh_q;
            fl_neg_d  = slot_neg_q;
            slot_ok_d = 1'b0;
          end
        end else if (rem_q != 16'd0) begin
          // D: decode one entry per cycle into the empty slot
          if (ent_hit) begin
            rem_d     = rem_q - 16'd1;
            ent_ptr_d = ent_ptr_q + 1'b1;
            cursor_d  = 16'(e_cur + 17'd1);
            if (e_mag != 6'd0) begin
              if (e_cur >= {1'b0, n_in_q}) begin
                err_d = 1'b1;                 // out of range: flag it, read nothing
              end else begin
                slot_ok_d  = 1'b1;
                slot_cur_d = e_cur[15:0];
                slot_sh_d  = e_mag - 6'd1;
                slot_neg_d = e_neg;
              end
            end
          end else if (bus_free) begin
            valid_d = 1'b1;
            addr_d  = ent_ptr_q;
            kind_d  = KindEnt;
          end
        end else if (!valid_q) begin
          // row drained: nothing decoded, nothing waiting, nothing in flight
          state_d = cfg_final_q ? StWrite : StM;
        end
      end

      StM: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          addr_d  = ea_addr;
        end else if (retire) begin
          m_d     = pick_half(mem_rdata_i, addr_q[1]);
          state_d = StShift;
        end
      end

      StShift: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          addr_d  = ea_addr;
        end else if (retire) begin
          shift_d  = pick_byte(mem_rdata_i, addr_q[1:0]);
          rq_start = 1'b1;
          state_d  = StReq;
        end
      end

      StReq: begin
        if (rq_done) begin
          state_d = StWrite;
        end
      end

      StWrite: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          if (cfg_final_q) begin
            addr_d  = ea_addr;
            wdata_d = acc_q;
            wstrb_d = 4'b1111;
          end else begin
            addr_d  = ea_addr;
            wdata_d = {4{rq_y}};
            wstrb_d = 4'b0001 << ea_addr[1:0];
          end
        end else if (retire) begin
          o_d     = o_q + 16'd1;
          state_d = (o_q + 16'd1 == n_out_q) ? StIdle : StLen;
        end
      end

      default: state_d = StIdle;
    endcase
  end

  pengine_requant u_requant (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .start_i (rq_start),
    .acc_i   (acc_q),
    .m_i     (m_d),
    .shift_i (shift_d),
    .busy_o  (rq_busy_unused),
    .done_o  (rq_done),
    .y_o     (rq_y)
  );

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q   <= StIdle;
      valid_q   <= 1'b0;
      wstrb_q   <= 4'd0;
      slot_ok_q <= 1'b0;
      ent_ok_q  <= 1'b0;
      in_ok_q   <= 1'b0;
      err_q     <= 1'b0;
    end else begin
      state_q   <= state_d;
      valid_q   <= valid_d;
      wstrb_q   <= wstrb_d;
      slot_ok_q <= slot_ok_d;
      ent_ok_q  <= ent_ok_d;
      in_ok_q   <= in_ok_d;
      err_q     <= err_d;
    end
    o_q        <= o_d;
    rem_q      <= rem_d;
    cursor_q   <= cursor_d;
    ent_ptr_q  <= ent_ptr_d;
    acc_q      <= acc_d;
    ent_buf_q  <= ent_buf_d;
    ent_wa_q   <= ent_wa_d;
    in_buf_q   <= in_buf_d;
    in_wa_q    <= in_wa_d;
    slot_cur_q <= slot_cur_d;
    slot_sh_q  <= slot_sh_d;
    slot_neg_q <= slot_neg_d;
    fl_byte_q  <= fl_byte_d;
    fl_sh_q    <= fl_sh_d;
    fl_neg_q   <= fl_neg_d;
    addr_q     <= addr_d;
    wdata_q    <= wdata_d;
    kind_q     <= kind_d;
    m_q        <= m_d;
    shift_q    <= shift_d;
  end

  assign busy_o      = (state_q != StIdle);
  assign mem_valid_o = valid_q;
  assign mem_addr_o  = zext32(addr_q);
  assign mem_wdata_o = wdata_q;
  assign mem_wstrb_o = wstrb_q;

  // ---------------------------------------------------------------------------------------------
  // Register slave: one wait state (ready the cycle after valid), like the SoC memories.
  // ---------------------------------------------------------------------------------------------
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      reg_ready_q <= 1'b0;
      cfg_bits_q  <= 3'd4;
      cfg_final_q <= 1'b0;
      n_out_q     <= 16'd0;
      n_in_q      <= 16'd0;
      m_lg_q      <= 2'd1;
      sh_lg_q     <= 2'd0;
      done_q      <= 1'b0;
      cycles_q    <= 32'd0;
    end else begin
      reg_ready_q <= reg_valid_i && !reg_ready_q;
      if (start) begin
        done_q   <= (n_out_q == 16'd0);
        cycles_q <= 32'd0;
      end else if (busy_o) begin
        cycles_q <= cycles_q + 32'd1;
        if (state_d == StIdle) begin
          done_q <= 1'b1;
        end
      end
      if (reg_we && !busy_o) begin
        unique case (reg_addr_i[11:2])
          accel_pkg::PENGINE_CFG[11:2]: begin
            cfg_bits_q  <= reg_wdata_i[2:0];
            cfg_final_q <= reg_wdata_i[8];
          end
          accel_pkg::PENGINE_N_OUT[11:2]:     n_out_q <= reg_wdata_i[15:0];
          accel_pkg::PENGINE_N_IN[11:2]:      n_in_q  <= reg_wdata_i[15:0];
          accel_pkg::PENGINE_RQ_STRIDE[11:2]: begin
            m_lg_q  <= reg_wdata_i[1:0];
            sh_lg_q <= reg_wdata_i[9:8];
          end
          default: ;
        endcase
      end
    end
    // pointer registers: datapath, not reset
    if (reg_we && !busy_o) begin
      unique case (reg_addr_i[11:2])
        accel_pkg::PENGINE_IN_ADDR[11:2]:    in_base_q   <= reg_wdata_i[AddrW-1:0];
        accel_pkg::PENGINE_ENT_ADDR[11:2]:   ent_base_q  <= reg_wdata_i[AddrW-1:0];
        accel_pkg::PENGINE_LEN_ADDR[11:2]:   len_base_q  <= reg_wdata_i[AddrW-1:0];
        accel_pkg::PENGINE_BIAS_ADDR[11:2]:  bias_base_q <= reg_wdata_i[AddrW-1:0];
        accel_pkg::PENGINE_MULT_ADDR[11:2]:     m_base_q    <= reg_wdata_i[AddrW-1:0];
        accel_pkg::PENGINE_SHIFT_ADDR[11:2]: sh_base_q   <= reg_wdata_i[AddrW-1:0];
        accel_pkg::PENGINE_OUT_ADDR[11:2]:   out_base_q  <= reg_wdata_i[AddrW-1:0];
        default: ;
      endcase
    end
  end

  always_comb begin
    reg_rdata_o = 32'd0;
    unique case (reg_addr_i[11:2])
      accel_pkg::PENGINE_STATUS[11:2]:     reg_rdata_o = {29'd0, err_q, done_q, busy_o};
      accel_pkg::PENGINE_CFG[11:2]:        reg_rdata_o = {23'd0, cfg_final_q, 5'd0, cfg_bits_q};
      accel_pkg::PENGINE_N_OUT[11:2]:      reg_rdata_o = {16'd0, n_out_q};
      accel_pkg::PENGINE_N_IN[11:2]:       reg_rdata_o = {16'd0, n_in_q};
      accel_pkg::PENGINE_RQ_STRIDE[11:2]:  reg_rdata_o = {22'd0, sh_lg_q, 6'd0, m_lg_q};
      accel_pkg::PENGINE_CYCLES[11:2]:     reg_rdata_o = cycles_q;
      default:                  reg_rdata_o = 32'd0;
    endcase
  end
  assign reg_ready_o = reg_ready_q;
endmodule

`default_nettype wire
