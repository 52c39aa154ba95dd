// P-layer engine: a pruned, power-of-two dense layer computed with shifts and adds only.
//
//   acc[o] = bias[o] + sum over row o's entries of ±(x[cursor] << (magnitude-1))
//   out[o] = final ? acc[o] (i32 LE) : requantize(acc[o], m[o], shift[o]) (u8)
//
// bit-exact with `firmware::numerics::dense_p_acc` + `requantize` (entry byte
// `[skip | sign | magnitude]`, code width CFG.bits in 2..=7).
//
// Data flow: weight-driven. The engine walks row o's entry bytes in order (row_len[o] of them,
// rows back to back) and, for each non-zero entry, reads the one activation it selects. One
// accumulator, one pass over the entries; the irregular access goes to the activations
// (read-only, small) instead of to the accumulators (see README.md for why not the paper's
// activation-driven flow).
//
// Input buffer: the activations are read from an on-chip copy (BufWords x 32 bits, 8 EBR on the
// iCE40), one-cycle reads that leave the bus to the entry stream. When N_IN <= BufMaxIn, START
// first copies the input words into it (StCopy: one bus read per word, the words the input
// touches and no other, indexed by RAM word address mod BufWords: at most BufWords consecutive
// words, so no two collide). A larger input takes the same path one word at a time: the slot's
// word is read into the buffer over the bus just before its activation is read back (slow, but
// no second datapath). The copy assumes the input does not change while the engine runs: the
// output must not overlap it (OUT_ADDR), nor may the CPU write it.
//
// Micro-architecture: a decoder (D) turns entry bytes into (cursor, shift, sign) for the next
// non-zero weight and parks it in a one-deep slot; the accumulate side (X) reads the slot's
// activation from the buffer (D refills the slot in the same cycle) and adds the shifted byte the
// cycle after. D decodes from the kept entry word only (see the decoder view below); with the
// buffer D never waits for X, so the next entry word is fetched as soon as D starts on the kept
// one and lands (3 cycles later in the SoC, which hands the RAM's answer over a cycle late) as D
// finishes it. Steady state in the SoC: one entry per cycle, the entry stream taking 3 of every
// 4 bus cycles; the bus's other masters go first.
//
// Bus master: PicoRV32 native (valid/ready, one transaction at a time, held until ready).
// Register slave: PicoRV32-native-style, offsets below (the SoC decodes the 4 KB block).
//
// Reset: synchronous, active low, control state only.
`default_nettype none

module pengine #(
  parameter int unsigned AddrW = 32  // SoC address width the RAM must fit in (checked only: the
                                     // pointer registers keep offsets inside the RAM, see OffW)
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
  // The engine keeps byte offsets inside the RAM (pointers must point into RAM): OffW bits, and
  // puts RAM_BASE's bits back on the bus (RAM_BASE is a multiple of the power-of-two RAM_SIZE).
  localparam int unsigned OffW = $clog2(accel_pkg::RAM_SIZE);
  // Input buffer: BufWords words; an input fits when the words it touches (up to 3 bytes of the
  // first word lie before it) are at most BufWords.
  localparam int unsigned BufWords = accel_pkg::PENGINE_BUF_WORDS;
  localparam int unsigned BufMaxIn = 4 * BufWords - 3;
  localparam int unsigned BufAw    = $clog2(BufWords);  // index: RAM word address bits
  initial begin
    if (AddrW < accel_pkg::ENGINE_ADDR_BITS || AddrW > 32) begin
      $error("pengine: AddrW must be in %0d..32 (accel_pkg::ENGINE_ADDR_BITS: the SoC RAM's end)",
             accel_pkg::ENGINE_ADDR_BITS);
    end
    // the registers below are as wide as their fields in the register map
    if ($bits(cfg_bits_q) != accel_pkg::PENGINE_CFG_BITS_WIDTH
        || $bits(n_out_q) != accel_pkg::PENGINE_N_OUT_VALUE_WIDTH
        || $bits(n_in_q) != accel_pkg::PENGINE_N_IN_VALUE_WIDTH
        || $bits(m_lg_q) != accel_pkg::PENGINE_RQ_STRIDE_M_LG_WIDTH
        || $bits(sh_lg_q) != accel_pkg::PENGINE_RQ_STRIDE_SH_LG_WIDTH) begin
      $error("pengine: a register's width differs from its accel_pkg field width");
    end
    if ((accel_pkg::PENGINE_IN_ADDR | accel_pkg::PENGINE_ENT_ADDR | accel_pkg::PENGINE_LEN_ADDR
         | accel_pkg::PENGINE_BIAS_ADDR | accel_pkg::PENGINE_MULT_ADDR
         | accel_pkg::PENGINE_SHIFT_ADDR | accel_pkg::PENGINE_OUT_ADDR) >= 12'h040) begin
      $error("pengine: the pointer registers must sit below offset 0x40 (pointer RAM index)");
    end
    if (OffW < 16 || OffW > 17 || accel_pkg::RAM_SIZE != (32'd1 << OffW)
        || (accel_pkg::RAM_BASE & (accel_pkg::RAM_SIZE - 32'd1)) != 32'd0) begin
      $error("pengine: RAM_SIZE must be a power of two in 64..128 KiB dividing RAM_BASE");
    end
    if (BufWords != (32'd1 << BufAw) || BufAw + 2 > OffW || BufMaxIn > 16'hFFFF) begin
      $error("pengine: PENGINE_BUF_WORDS must be a power of two, at most the RAM's words and 16 K");
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Register file
  // ---------------------------------------------------------------------------------------------
  logic [2:0]       cfg_bits_q;
  logic             cfg_final_q;
  logic [15:0]      n_out_q, n_in_q;
  // The seven pointer registers live in a small RAM (one EBR on the iCE40, no flip-flops, no
  // read multiplexer), indexed by word offset bits [5:2]. Its read port is addressed by the
  // next state, so `base_q` holds the pointer each state needs: ENT_ADDR while idle (START copies
  // it), IN_ADDR while copying the input or walking a row, the row array's base in the other
  // states.
  (* no_rw_check *)
  logic [OffW-1:0]  ptr_mem [16];
  logic [OffW-1:0]  base_q;
  logic [3:0]       ptr_ra;
  logic             ptr_we;
  logic [1:0]       m_lg_q, sh_lg_q;        // log2 of the m / shift array strides in bytes
  logic [31:0]      cycles_q;
  logic             done_q, err_q;
  logic             start;

  logic reg_ready_q;
  logic reg_we;
  assign reg_we = reg_valid_i && !reg_ready_q && (reg_wstrb_i != 4'd0);
  assign start  = reg_we && (reg_addr_i[11:2] == accel_pkg::PENGINE_CTRL[11:2])
                  && reg_wdata_i[accel_pkg::PENGINE_CTRL_START_LSB] && !busy_o;

  // ---------------------------------------------------------------------------------------------
  // Engine state
  // ---------------------------------------------------------------------------------------------
  typedef enum logic [3:0] {
    StIdle,
    StCopy,    // copy the input into the buffer
    StLen,     // read row_len[o]
    StBias,    // read bias[o]
    StBody,    // walk the row's entries
    StM,       // read m[o]
    StShift,   // read shift[o]
    StReq,     // serial requantise
    StWrite    // write out[o]
  } state_e;

  typedef enum logic [0:0] {
    KindEnt,   // an entry word
    KindIn     // an input word, for the buffer
  } kind_e;

  state_e           state_q, state_d;
  logic [15:0]      o_q, o_d;               // current row; in StCopy the input offset copied next
  logic [15:0]      rem_q, rem_d;           // entries of the row not yet decoded
  logic [15:0]      cursor_q, cursor_d;     // decoder's input index
  logic [OffW-3:0]  ent_wa_q, ent_wa_d;     // word address of the entry word after the kept one
  logic [1:0]       ent_b_q, ent_b_d;       // byte of the kept entry word decoded next
  logic [31:0]      acc_q, acc_d;
  logic             err_d;

  // entry word buffer: ent_ok = it holds the word D decodes from (entries are read in order, so
  // leaving the word clears it and no word address is kept)
  logic [31:0]      ent_buf_q, ent_buf_d;
  logic             ent_ok_q, ent_ok_d;
  // input buffer (write port: the bus's answer to a KindIn read; read port: the slot's word)
  logic             buf_all;                // N_IN fits: the whole input is copied at START
  logic             ibuf_we;
  logic [31:0]      ibuf_q;
  logic             fill_ok_q, fill_ok_d;   // input too large: the slot's word was just read in
  // decoded non-zero weight waiting for its activation
  logic             slot_ok_q, slot_ok_d;
  logic [15:0]      slot_cur_q, slot_cur_d;
  logic [5:0]       slot_sh_q, slot_sh_d;
  logic             slot_neg_q, slot_neg_d;
  // activation read from the buffer last cycle
  logic             rd_q, rd_d;
  logic [1:0]       fl_byte_q, fl_byte_d;
  logic [5:0]       fl_sh_q, fl_sh_d;
  logic             fl_neg_q, fl_neg_d;
  // bus
  logic             valid_q, valid_d;
  logic [OffW-1:0]  addr_q, addr_d;
  logic [3:0]       wstrb_q, wstrb_d;
  kind_e            kind_q, kind_d;
  // requantiser (holds the multiplier itself; the shift is taken from the bus as it arrives)
  logic             rq_start, rq_m_load, rq_done;
  logic [7:0]       rq_y;
  logic             rq_busy_unused;
  logic [1:0]       reg_addr_unused;
  logic [31:0]      reg_wdata_unused;
  assign reg_addr_unused  = reg_addr_i[1:0];  // word registers: byte lanes ignored
  assign reg_wdata_unused = reg_wdata_i;      // pointer bits above OffW are dropped

  logic retire;          // a transaction completes this cycle
  logic bus_free;        // a new transaction may be issued this cycle (valid next cycle)
  assign retire   = valid_q && mem_ready_i;
  assign bus_free = !valid_q || mem_ready_i;

  // ---- width helpers (explicit zero extension; yosys 0.23 has no parameter-width casts) ---------
  function automatic logic [OffW-1:0] zext_off(input logic [15:0] v);
    logic [OffW-1:0] r;
    r       = '0;
    r[15:0] = v;
    zext_off = r;
  endfunction

  function automatic logic [31:0] ram_addr(input logic [OffW-1:0] v);
    logic [31:0] r;
    r            = accel_pkg::RAM_BASE;
    r[OffW-1:0]  = v;
    ram_addr = r;
  endfunction

  // ---- address generator: base + (o << lg) -----------------------------------------------------
  function automatic logic [OffW-1:0] elem_addr(input logic [OffW-1:0] base,
                                                input logic [15:0] idx, input logic [1:0] lg);
    logic [OffW-1:0] i;  // lg in 0..2 (strides 1, 2, 4 bytes)
    i = zext_off(idx);
    elem_addr = base + (lg[1] ? {i[OffW-3:0], 2'b00} : lg[0] ? {i[OffW-2:0], 1'b0} : i);
  endfunction

  function automatic logic [7:0] pick_byte(input logic [31:0] w, input logic [1:0] b);
    pick_byte = 8'(w >> {b, 3'b000});
  endfunction

  function automatic logic [15:0] pick_half(input logic [31:0] w, input logic a1);
    pick_half = a1 ? w[31:16] : w[15:0];
  endfunction

  // One shared element-address adder for the per-row arrays (selected by state).
  logic [OffW-1:0]  ea_addr;
  logic [1:0]       ea_lg;
  always_comb begin
    ea_lg = 2'd1;
    unique case (state_q)
      StCopy:  ea_lg = 2'd0;                  // IN_ADDR + o: the input byte o
      StBias:  ea_lg = 2'd2;
      StM:     ea_lg = m_lg_q;
      StShift: ea_lg = sh_lg_q;
      StWrite: ea_lg = cfg_final_q ? 2'd2 : 2'd0;
      default: ea_lg = 2'd1;
    endcase
    ea_addr = elem_addr(base_q, o_q, ea_lg);
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
    // from the kept word only: forwarding the arriving word (one cycle earlier every four
    // entries) put the bus answer, the byte pick, the skip shifter and the cursor adder on one
    // path, 21 MHz in the board SoC
    ent_word_v = ent_buf_q;
    ent_hit    = ent_ok_q;
    ent_byte   = pick_byte(ent_word_v, ent_b_q);
    e_skip     = ent_byte >> cfg_bits_q;
    e_neg      = ent_byte[cfg_bits_q - 3'd1];
    e_mag      = 6'(ent_byte & ((8'd1 << (cfg_bits_q - 3'd1)) - 8'd1));
    e_cur      = {1'b0, cursor_q} + {9'd0, e_skip};
  end

  // slot's activation address (base_q = IN_ADDR in StBody)
  logic [OffW-1:0]  slot_addr;
  assign slot_addr = base_q + zext_off(slot_cur_q);

  // the row counter's adder, also the copy's step from input byte o to the next word's first
  // byte (from the low address bits, not through ea_addr: off the carry chain)
  logic [1:0]       o_lo;
  logic [2:0]       o_step;
  logic [15:0]      o_inc;
  assign o_lo   = base_q[1:0] + o_q[1:0];
  assign o_step = (state_q == StCopy) ? 3'd4 - {1'b0, o_lo} : 3'd1;
  assign o_inc  = o_q + {13'd0, o_step};

  // Only copy and slot reads land in the buffer (kind_q keeps its last value through the
  // row-array reads).
  assign buf_all = (n_in_q <= 16'(BufMaxIn));
  assign ibuf_we = retire && kind_q == KindIn && (state_q == StCopy || state_q == StBody);

  (* no_rw_check *)
  logic [31:0]      ibuf_mem [BufWords];
  always_ff @(posedge clk_i) begin
    if (ibuf_we) begin
      ibuf_mem[addr_q[BufAw+1:2]] <= mem_rdata_i;
    end
    ibuf_q <= ibuf_mem[slot_addr[BufAw+1:2]];
  end

  // ---- the shift-accumulate unit: a two-level shifter, one adder with carry-in ------------------
  // acc -/+ term as acc + (term ^ {32{neg}}) + neg: one carry chain instead of an adder, a
  // subtractor and a multiplexer.
  logic [7:0]  sa_x;
  logic [5:0]  sa_sh;
  logic        sa_neg;
  logic [14:0] sa_bits;
  logic [31:0] sa_term, sa_sum;
  always_comb begin
    // operand: the activation the buffer read last cycle
    sa_x   = pick_byte(ibuf_q, fl_byte_q);
    sa_sh  = fl_sh_q;
    sa_neg = fl_neg_q;
    // term = x << s mod 2^32 (0 from s = 32): bit shift by s[2:0], then byte shift by s[4:3]
    sa_bits = {7'd0, sa_x} << sa_sh[2:0];
    unique case (sa_sh[4:3])
      2'd0:    sa_term = {17'd0, sa_bits};
      2'd1:    sa_term = {9'd0, sa_bits, 8'd0};
      2'd2:    sa_term = {1'd0, sa_bits, 16'd0};
      default: sa_term = {sa_bits[7:0], 24'd0};
    endcase
    if (sa_sh[5]) begin
      sa_term = 32'd0;
    end
    sa_sum = acc_q + (sa_term ^ {32{sa_neg}}) + {31'd0, sa_neg};
  end

  // ---------------------------------------------------------------------------------------------
  // Next-state logic
  // ---------------------------------------------------------------------------------------------
  logic slot_free;  // the slot is empty or served this cycle: D may decode into it
  logic ent_done;   // D holds no entry bytes after this cycle: an arriving entry word is kept
  always_comb begin
    state_d    = state_q;
    o_d        = o_q;
    rem_d      = rem_q;
    cursor_d   = cursor_q;
    ent_wa_d   = ent_wa_q;
    ent_b_d    = ent_b_q;
    acc_d      = acc_q;
    err_d      = err_q;
    ent_buf_d  = ent_buf_q;
    ent_ok_d   = ent_ok_q;
    fill_ok_d  = fill_ok_q;
    slot_ok_d  = slot_ok_q;
    slot_cur_d = slot_cur_q;
    slot_sh_d  = slot_sh_q;
    slot_neg_d = slot_neg_q;
    rd_d       = 1'b0;
    fl_byte_d  = fl_byte_q;
    fl_sh_d    = fl_sh_q;
    fl_neg_d   = fl_neg_q;
    valid_d    = valid_q;
    addr_d     = addr_q;
    wstrb_d    = wstrb_q;
    kind_d     = kind_q;
    rq_start   = 1'b0;
    rq_m_load  = 1'b0;
    slot_free  = 1'b0;
    ent_done   = !ent_ok_q;

    if (retire) begin
      valid_d = 1'b0;
      wstrb_d = 4'd0;
    end

    // X, part 2: add the activation read last cycle. Outside the row walk's state: the row's
    // last one lands as the engine leaves StBody, at least three cycles before acc_q is used.
    if (rd_q) begin
      acc_d = sa_sum;
    end

    unique case (state_q)
      StIdle: begin
        if (start) begin
          err_d     = 1'b0;
          o_d       = 16'd0;
          ent_wa_d  = base_q[OffW-1:2];       // ENT_ADDR while idle
          ent_b_d   = base_q[1:0];
          ent_ok_d  = 1'b0;
          slot_ok_d = 1'b0;
          state_d   = (n_out_q == 16'd0) ? StIdle : buf_all ? StCopy : StLen;
        end
      end

      StCopy: begin
        // input offset o lies in the next word to copy: read it, step to the following word's
        // first byte (the input's words, none past it: the last may be partial)
        if (o_q < n_in_q) begin
          if (bus_free) begin
            valid_d = 1'b1;
            addr_d  = ea_addr;
            kind_d  = KindIn;
            o_d     = o_inc;
          end
        end else if (bus_free) begin
          o_d     = 16'd0;
          state_d = StLen;
        end
      end

      StLen: begin
        // the last row's write done (checked here, not on StWrite's adder: state_d addresses
        // the pointer RAM)
        if (o_q == n_out_q) begin
          state_d = StIdle;
        end else if (!valid_q) begin
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
        if (retire && kind_q == KindIn) begin
          fill_ok_d = 1'b1;                   // the slot's word is in the buffer now
        end

        // X, part 1: read the slot's activation from the buffer, or (input too large) first
        // read its word into the buffer over the bus
        slot_free = !slot_ok_q;
        if (slot_ok_q) begin
          if (buf_all || fill_ok_q) begin
            rd_d      = 1'b1;
            fl_byte_d = slot_addr[1:0];
            fl_sh_d   = slot_sh_q;
            fl_neg_d  = slot_neg_q;
            slot_ok_d = 1'b0;
            fill_ok_d = 1'b0;
            slot_free = 1'b1;
          end else if (bus_free && !(valid_q && kind_q == KindIn)) begin
            valid_d = 1'b1;
            addr_d  = slot_addr;
            kind_d  = KindIn;
          end
        end

        if (slot_free && rem_q != 16'd0) begin
          // D: decode one entry per cycle into the slot
          if (ent_hit) begin
            rem_d    = rem_q - 16'd1;
            ent_b_d  = ent_b_q + 2'd1;
            if (ent_b_q == 2'd3) begin
              ent_ok_d = 1'b0;                // word used up
              ent_done = 1'b1;
            end
            cursor_d = 16'(e_cur + 17'd1);
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
            // Fetch the next entry word already if this row uses the rest of the kept one (>= 4
            // entries left) and D does not wait for X (whole input buffered): in the SoC it
            // lands 3 cycles later, as D finishes the kept word. A word landing earlier (a
            // faster bus) is dropped and fetched again.
            if (buf_all && !valid_q && rem_q[15:2] != 14'd0) begin
              valid_d = 1'b1;
              addr_d  = {ent_wa_q, 2'b00};
              kind_d  = KindEnt;
            end
          end else if (bus_free && !(retire && kind_q == KindEnt)) begin  // not while it lands
            valid_d = 1'b1;
            addr_d  = {ent_wa_q, 2'b00};
            kind_d  = KindEnt;
          end
        end else if (!slot_ok_q && rem_q == 16'd0 && !valid_q) begin
          // row drained: nothing decoded, nothing waiting, nothing in flight
          state_d = cfg_final_q ? StWrite : StM;
        end

        // an entry word lands: kept when D has finished the previous one (this cycle at the
        // latest), dropped otherwise
        if (retire && kind_q == KindEnt && ent_done) begin
          ent_buf_d = mem_rdata_i;
          ent_ok_d  = 1'b1;
          ent_wa_d  = ent_wa_q + 1'b1;
        end
      end

      StM: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          addr_d  = ea_addr;
        end else if (retire) begin
          rq_m_load = 1'b1;
          state_d   = StShift;
        end
      end

      StShift: begin
        if (!valid_q) begin
          valid_d = 1'b1;
          addr_d  = ea_addr;
        end else if (retire) begin
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
          addr_d  = ea_addr;
          wstrb_d = cfg_final_q ? 4'b1111 : (4'b0001 << ea_addr[1:0]);
        end else if (retire) begin
          o_d     = o_inc;
          state_d = StLen;
        end
      end

      default: state_d = StIdle;
    endcase
  end

  pengine_requant u_requant (
    .clk_i    (clk_i),
    .rst_ni   (rst_ni),
    .m_load_i (rq_m_load),
    .m_i      (pick_half(mem_rdata_i, addr_q[1])),
    .start_i  (rq_start),
    .acc_i    (acc_q),
    .shift_i  (pick_byte(mem_rdata_i, addr_q[1:0])),
    .busy_o   (rq_busy_unused),
    .done_o   (rq_done),
    .y_o      (rq_y)
  );

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q   <= StIdle;
      valid_q   <= 1'b0;
      wstrb_q   <= 4'd0;
      slot_ok_q <= 1'b0;
      ent_ok_q  <= 1'b0;
      fill_ok_q <= 1'b0;
      rd_q      <= 1'b0;
      err_q     <= 1'b0;
    end else begin
      state_q   <= state_d;
      valid_q   <= valid_d;
      wstrb_q   <= wstrb_d;
      slot_ok_q <= slot_ok_d;
      ent_ok_q  <= ent_ok_d;
      fill_ok_q <= fill_ok_d;
      rd_q      <= rd_d;
      err_q     <= err_d;
    end
    o_q        <= o_d;
    rem_q      <= rem_d;
    cursor_q   <= cursor_d;
    ent_wa_q   <= ent_wa_d;
    ent_b_q    <= ent_b_d;
    acc_q      <= acc_d;
    ent_buf_q  <= ent_buf_d;
    slot_cur_q <= slot_cur_d;
    slot_sh_q  <= slot_sh_d;
    slot_neg_q <= slot_neg_d;
    fl_byte_q  <= fl_byte_d;
    fl_sh_q    <= fl_sh_d;
    fl_neg_q   <= fl_neg_d;
    addr_q     <= addr_d;
    kind_q     <= kind_d;
  end

  assign busy_o      = (state_q != StIdle);
  assign mem_valid_o = valid_q;
  assign mem_addr_o  = ram_addr(addr_q);
  // write data straight from the registers that hold it through the write (acc_q, the
  // requantiser's result): no copy
  assign mem_wdata_o = cfg_final_q ? acc_q : {4{rq_y}};
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
            cfg_bits_q  <= reg_wdata_i[accel_pkg::PENGINE_CFG_BITS_LSB +: $bits(cfg_bits_q)];
            cfg_final_q <= reg_wdata_i[accel_pkg::PENGINE_CFG_FINAL_LSB];
          end
          accel_pkg::PENGINE_N_OUT[11:2]:
            n_out_q <= reg_wdata_i[accel_pkg::PENGINE_N_OUT_VALUE_LSB +: $bits(n_out_q)];
          accel_pkg::PENGINE_N_IN[11:2]:
            n_in_q  <= reg_wdata_i[accel_pkg::PENGINE_N_IN_VALUE_LSB +: $bits(n_in_q)];
          accel_pkg::PENGINE_RQ_STRIDE[11:2]: begin
            m_lg_q  <= reg_wdata_i[accel_pkg::PENGINE_RQ_STRIDE_M_LG_LSB +: $bits(m_lg_q)];
            sh_lg_q <= reg_wdata_i[accel_pkg::PENGINE_RQ_STRIDE_SH_LG_LSB +: $bits(sh_lg_q)];
          end
          default: ;
        endcase
      end
    end
  end

  // ---- pointer RAM: written by the register slave while idle, read by the engine -------------
  always_comb begin
    unique case (reg_addr_i[11:2])
      accel_pkg::PENGINE_IN_ADDR[11:2], accel_pkg::PENGINE_ENT_ADDR[11:2],
      accel_pkg::PENGINE_LEN_ADDR[11:2], accel_pkg::PENGINE_BIAS_ADDR[11:2],
      accel_pkg::PENGINE_MULT_ADDR[11:2], accel_pkg::PENGINE_SHIFT_ADDR[11:2],
      accel_pkg::PENGINE_OUT_ADDR[11:2]: ptr_we = reg_we && !busy_o;
      default:                           ptr_we = 1'b0;
    endcase
    unique case (state_d)
      StIdle:          ptr_ra = accel_pkg::PENGINE_ENT_ADDR[5:2];
      StCopy:          ptr_ra = accel_pkg::PENGINE_IN_ADDR[5:2];
      StLen:           ptr_ra = accel_pkg::PENGINE_LEN_ADDR[5:2];
      StBias:          ptr_ra = accel_pkg::PENGINE_BIAS_ADDR[5:2];
      StBody:          ptr_ra = accel_pkg::PENGINE_IN_ADDR[5:2];
      StM:             ptr_ra = accel_pkg::PENGINE_MULT_ADDR[5:2];
      StShift:         ptr_ra = accel_pkg::PENGINE_SHIFT_ADDR[5:2];
      default:         ptr_ra = accel_pkg::PENGINE_OUT_ADDR[5:2];  // StReq, StWrite
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (ptr_we) begin
      ptr_mem[reg_addr_i[5:2]] <= reg_wdata_i[OffW-1:0];
    end
    base_q <= ptr_mem[ptr_ra];
  end

  always_comb begin
    reg_rdata_o = 32'd0;
    unique case (reg_addr_i[11:2])
      accel_pkg::PENGINE_STATUS[11:2]: begin
        reg_rdata_o[accel_pkg::PENGINE_STATUS_ERR_LSB]  = err_q;
        reg_rdata_o[accel_pkg::PENGINE_STATUS_DONE_LSB] = done_q;
        reg_rdata_o[accel_pkg::PENGINE_STATUS_BUSY_LSB] = busy_o;
      end
      accel_pkg::PENGINE_CFG[11:2]: begin
        reg_rdata_o[accel_pkg::PENGINE_CFG_FINAL_LSB] = cfg_final_q;
        reg_rdata_o[accel_pkg::PENGINE_CFG_BITS_LSB +: $bits(cfg_bits_q)] = cfg_bits_q;
      end
      accel_pkg::PENGINE_N_OUT[11:2]:
        reg_rdata_o[accel_pkg::PENGINE_N_OUT_VALUE_LSB +: $bits(n_out_q)] = n_out_q;
      accel_pkg::PENGINE_N_IN[11:2]:
        reg_rdata_o[accel_pkg::PENGINE_N_IN_VALUE_LSB +: $bits(n_in_q)] = n_in_q;
      accel_pkg::PENGINE_RQ_STRIDE[11:2]: begin
        reg_rdata_o[accel_pkg::PENGINE_RQ_STRIDE_SH_LG_LSB +: $bits(sh_lg_q)] = sh_lg_q;
        reg_rdata_o[accel_pkg::PENGINE_RQ_STRIDE_M_LG_LSB +: $bits(m_lg_q)]   = m_lg_q;
      end
      accel_pkg::PENGINE_CYCLES[11:2]:     reg_rdata_o = cycles_q;
      default:                  reg_rdata_o = 32'd0;
    endcase
  end
  assign reg_ready_o = reg_ready_q;
endmodule

`default_nettype wire
