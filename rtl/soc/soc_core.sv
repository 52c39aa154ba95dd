// cnnfpga SoC core: the CPU (Cpu: PicoRV32 or SERV, the board's choice in accel_pkg BOARD_CPU;
// PicoRV32 without DIV, its iterative multiplier, counter CSRs and misalignment and
// illegal-instruction traps by parameter: CpuMul, CpuCounters, CpuCatch, the board's choices in
// accel_pkg BOARD_CPU_*; FastMul the single-cycle multiplier; SERV bridged from Wishbone), a
// 64-word boot ROM in an EBR (generated: copies the firmware from flash to RAM), 128 KB SPRAM shared with the accelerator engines through a fixed-priority
// arbiter, SPI flash read window (soc_flash: single-SPI READ), and MMIO: system registers (UART TX, EXIT,
// UART RX, cycle counter, ENGINE_WAIT), the NP conv engine and the P-layer engine (each optional:
// EnableConv, EnablePengine). Memory map, flash layout and boot flow:
// rtl/soc/README.md; addresses come from the generated accel_pkg (rtl/regmap/accel.toml).
//
// Bus: PicoRV32 native. Every slave answers one cycle after `valid` at the earliest (one wait
// state); UART writes stall while the transmitter is busy; flash reads take ~70 cycles per word
// (single SPI, sequential words stream). Unmapped addresses and flash writes complete at once
// (reads return 0) so a wild pointer cannot hang the bus.
//
// Reset: synchronous, active low (`rst_ni`), control state only; PicoRV32's `resetn` is the
// same, SERV's `i_rst` its inverse.
`default_nettype none

module soc_core #(
  parameter int unsigned UartDiv       = accel_pkg::BOARD_UART_DIV,  // clock cycles per UART bit
  parameter bit          FastMul       = 1'b0,  // 1: single-cycle multiplier (DSPs on the board), whatever CpuMul says
  parameter bit          EnableConv    = 1'b1,  // 0: no conv engine (its block reads 0)
  parameter bit          EnablePengine = 1'b1,  // 0: no P-layer engine (its block reads 0)
  parameter int unsigned ConvLanes     = accel_pkg::LANES,  // conv engine MAC lanes (the board: BOARD_CONV_LANES)
  parameter int unsigned ConvFifoDepth = accel_pkg::FETCH_FIFO_DEPTH,  // its prefetch FIFO (the board: BOARD_FETCH_FIFO_DEPTH)
  parameter bit          CpuCounters   = 1'(accel_pkg::BOARD_CPU_COUNTERS),  // PicoRV32 ENABLE_COUNTERS
  parameter bit          CpuCatch      = 1'(accel_pkg::BOARD_CPU_CATCH),  // CATCH_MISALIGN, CATCH_ILLINSN
  parameter bit          CpuMul        = 1'(accel_pkg::BOARD_CPU_MUL),  // ENABLE_MUL (iterative) when FastMul = 0
  parameter int unsigned Cpu           = accel_pkg::BOARD_CPU  // CPU_PICORV32 or CPU_SERV (the PicoRV32 parameters above then do nothing)
) (
  input  wire logic        clk_i,
  input  wire logic        rst_ni,
  // UART
  output logic             uart_tx_o,
  input  wire logic        uart_rx_i,        // asynchronous; idle high
  output logic             uart_valid_o,     // one cycle per byte accepted by the transmitter
  output logic [7:0]       uart_data_o,
  // EXIT register
  output logic             exit_valid_o,     // one cycle per write to EXIT
  output logic             exited_o,         // sticky: EXIT was written
  output logic [31:0]      exit_code_o,      // last value written to EXIT
  // CPU observability
  output logic             trap_o,           // PicoRV32 trapped (halted)
  output logic [31:0]      pc_o,             // PC of the current instruction (SIM; else the last fetch)
  output logic [31:0]      instret_o,        // retired instructions (SIM only; 0 on the board)
  output logic [31:0]      cycle_o,          // cycles since reset (the CYCLES register)
  // SPI flash (single SPI: io0 = MOSI, io1 = MISO; soc_flash)
  output logic             flash_csb_o,
  output logic             flash_clk_o,
  output logic [3:0]       flash_io_oe_o,
  output logic [3:0]       flash_io_do_o,
  input  wire logic [3:0]  flash_io_di_i
);
  localparam int unsigned RomAw = $clog2(accel_pkg::ROM_SIZE / 4);
  // Engine pointer width (accel.toml ENGINE_ADDR_BITS): the RAM ends at RAM_BASE + RAM_SIZE,
  // checked below (the arbiter uses bits [16:2] only).
  localparam int unsigned EngineAddrBits = accel_pkg::ENGINE_ADDR_BITS;
  // The conv engine keeps byte offsets within the 128 KiB RAM only (17 bits: the registers
  // drop RAM_BASE's bit 17, the arbiter ignores it).
  localparam int unsigned ConvAddrBits = accel_pkg::CONV_ADDR_BITS;

  initial begin
    if (accel_pkg::RAM_SIZE > (1 << ConvAddrBits) || accel_pkg::RAM_BASE % (1 << ConvAddrBits) != 0) begin
      $error("soc_core: RAM not addressable by the conv engine's %0d-bit offsets", ConvAddrBits);
    end
    if ((accel_pkg::ROM_SIZE & (accel_pkg::ROM_SIZE - 1)) != 0 || accel_pkg::ROM_BASE % accel_pkg::ROM_SIZE != 0
        || (accel_pkg::RAM_SIZE & (accel_pkg::RAM_SIZE - 1)) != 0 || accel_pkg::RAM_BASE % accel_pkg::RAM_SIZE != 0
        || (accel_pkg::FLASH_SIZE & (accel_pkg::FLASH_SIZE - 1)) != 0
        || accel_pkg::FLASH_BASE % accel_pkg::FLASH_SIZE != 0) begin
      $error("soc_core: ROM, RAM and flash must each be a power of two at a multiple of its size");
    end
    if (accel_pkg::RAM_BASE + accel_pkg::RAM_SIZE > (1 << EngineAddrBits)) begin
      $error("soc_core: RAM above the engines' %0d-bit pointers", EngineAddrBits);
    end
  end

  // ---------------------------------------------------------------------------------------------
  // CPU
  // ---------------------------------------------------------------------------------------------
  logic        cpu_valid, cpu_instr, cpu_ready;
  logic [31:0] cpu_addr, cpu_wdata, cpu_rdata;
  logic [3:0]  cpu_wstrb;

  initial begin
    if (Cpu != accel_pkg::CPU_PICORV32 && Cpu != accel_pkg::CPU_SERV) begin
      $error("soc_core: Cpu must be CPU_PICORV32 or CPU_SERV");
    end
  end

  if (Cpu == accel_pkg::CPU_SERV) begin : g_serv
    // SERV (bit-serial RV32I, no CSRs): two Wishbone ports, never active at once (the data
    // port only between the fetches of one instruction), bridged to the native bus above. The
    // bridge registers the request (valid, port, byte enables) as PicoRV32 does, so that
    // SERV's combinational `cyc`/`sel` decode does not reach the arbiter and the engines behind
    // it (one cycle more per access; SERV makes one every ~40 cycles). SERV keeps `cyc` up for
    // a few cycles after an ack (the data port until its second stage starts), so a request
    // counts once: `acked_q` blocks a new one from the ack until `cyc` falls.
    logic [31:0] ibus_adr, dbus_adr, dbus_dat;
    logic [3:0]  dbus_sel, wstrb_q;
    logic        ibus_cyc, dbus_cyc, dbus_we;
    logic        rst_q, valid_q, dport_q, acked_q, halted_q, req;
    logic [31:0] unused_ext_rs1, unused_ext_rs2;
    logic [2:0]  unused_ext_funct3;
    logic        unused_mdu_valid;

    serv_rf_top #(
      .RESET_PC       (accel_pkg::ROM_BASE),
      .WITH_CSR       (0),        // no CSRs, traps or interrupts: the firmware uses none
      .RESET_STRATEGY ("MINI")
    ) u_cpu (
      .clk          (clk_i),
      .i_rst        (rst_q),      // registered: SERV gates its fetch request with it
      .i_timer_irq  (1'b0),
      .o_ibus_adr   (ibus_adr),
      .o_ibus_cyc   (ibus_cyc),
      .i_ibus_rdt   (cpu_rdata),
      .i_ibus_ack   (valid_q && cpu_ready && !dport_q),
      .o_dbus_adr   (dbus_adr),
      .o_dbus_dat   (dbus_dat),
      .o_dbus_sel   (dbus_sel),
      .o_dbus_we    (dbus_we),
      .o_dbus_cyc   (dbus_cyc),
      .i_dbus_rdt   (cpu_rdata),
      .i_dbus_ack   (valid_q && cpu_ready && dport_q),
      .o_ext_rs1    (unused_ext_rs1),
      .o_ext_rs2    (unused_ext_rs2),
      .o_ext_funct3 (unused_ext_funct3),
      .i_ext_rd     (32'd0),
      .i_ext_ready  (1'b0),
      .o_mdu_valid  (unused_mdu_valid)
    );

    assign req       = (ibus_cyc || dbus_cyc) && !acked_q && !valid_q && !halted_q;
    assign cpu_valid = valid_q;
    assign cpu_instr = !dport_q;
    logic unused_instr;   // only PicoRV32's board PC register reads it
    assign unused_instr = cpu_instr;
    // SERV holds its address and data registers for the whole request
    assign cpu_addr  = dport_q ? dbus_adr : ibus_adr;
    assign cpu_wdata = dbus_dat;
    assign cpu_wstrb = wstrb_q;

    // Halt on a fetched SYSTEM instruction (ecall, ebreak; the firmware has no CSR accesses):
    // no further bus request, as PicoRV32 traps. The PC is the last fetch's address.
    logic [31:0] pc_q;
    always_ff @(posedge clk_i) begin
      rst_q <= !rst_ni;
      if (!rst_ni) begin
        valid_q  <= 1'b0;
        dport_q  <= 1'b0;
        wstrb_q  <= 4'd0;
        acked_q  <= 1'b0;
        halted_q <= 1'b0;
        pc_q     <= accel_pkg::ROM_BASE;
      end else begin
        if (valid_q && cpu_ready) begin
          valid_q <= 1'b0;
          acked_q <= 1'b1;
        end else if (req) begin
          valid_q <= 1'b1;
          dport_q <= dbus_cyc;
          wstrb_q <= (dbus_cyc && dbus_we) ? dbus_sel : 4'd0;
        end else if (!(ibus_cyc || dbus_cyc)) begin
          acked_q <= 1'b0;
        end
        if (valid_q && cpu_ready && !dport_q) begin
          pc_q <= ibus_adr;
          if (cpu_rdata[6:0] == 7'b111_0011) begin
            halted_q <= 1'b1;
          end
        end
      end
    end
    assign trap_o = halted_q;
    assign pc_o   = pc_q;
`ifdef SIM
    // retired instructions: each fetch answered (the one that halts included)
    logic [31:0] instret_q;
    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        instret_q <= 32'd0;
      end else if (valid_q && cpu_ready && !dport_q) begin
        instret_q <= instret_q + 32'd1;
      end
    end
    assign instret_o = instret_q;
`else
    assign instret_o = 32'd0;
`endif
  end else begin : g_picorv32
    logic        unused_la_read, unused_la_write, unused_pcpi_valid;
    logic [31:0] unused_la_addr, unused_la_wdata, unused_pcpi_insn, unused_pcpi_rs1,
                 unused_pcpi_rs2, unused_eoi;
    logic [3:0]  unused_la_wstrb;
    logic        unused_trace_valid;
    logic [35:0] unused_trace_data;

    picorv32 #(
      .ENABLE_COUNTERS   (CpuCounters),  // the firmware reads SYS.CYCLES, not rdcycle
      .ENABLE_COUNTERS64 (1'b0),
      .COMPRESSED_ISA    (1'b0),   // no C: 358 LCs less (the UP5K fit); the firmware is riscv32i
      .TWO_STAGE_SHIFT   (1'b0),   // one-bit shift steps: 74 LCs less
      .CATCH_MISALIGN    (CpuCatch),
      .CATCH_ILLINSN     (CpuCatch),  // ebreak/ecall trap either way
      .ENABLE_MUL        (CpuMul && !FastMul),  // 0 and no FastMul: no PCPI at all, RV32I
      .ENABLE_FAST_MUL   (FastMul),
      .ENABLE_DIV        (1'b0),   // nor div/rem: firmware/tests/target_build.rs checks the ELF
      .ENABLE_IRQ        (1'b0),
      .PROGADDR_RESET    (accel_pkg::ROM_BASE)
    ) u_cpu (
      .clk          (clk_i),
      .resetn       (rst_ni),
      .trap         (trap_o),
      .mem_valid    (cpu_valid),
      .mem_instr    (cpu_instr),
      .mem_ready    (cpu_ready),
      .mem_addr     (cpu_addr),
      .mem_wdata    (cpu_wdata),
      .mem_wstrb    (cpu_wstrb),
      .mem_rdata    (cpu_rdata),
      .mem_la_read  (unused_la_read),
      .mem_la_write (unused_la_write),
      .mem_la_addr  (unused_la_addr),
      .mem_la_wdata (unused_la_wdata),
      .mem_la_wstrb (unused_la_wstrb),
      .pcpi_valid   (unused_pcpi_valid),
      .pcpi_insn    (unused_pcpi_insn),
      .pcpi_rs1     (unused_pcpi_rs1),
      .pcpi_rs2     (unused_pcpi_rs2),
      .pcpi_wr      (1'b0),
      .pcpi_rd      (32'd0),
      .pcpi_wait    (1'b0),
      .pcpi_ready   (1'b0),
      .irq          (32'd0),
      .eoi          (unused_eoi),
      .trace_valid  (unused_trace_valid),
      .trace_data   (unused_trace_data)
    );

`ifdef SIM
    // PicoRV32 prefetches the next word while decoding, so on a trap the last fetch address is
    // one instruction past the faulting one: report the core's own PC in simulation.
    assign pc_o = u_cpu.reg_pc;
    logic unused_cpu_instr;
    assign unused_cpu_instr = cpu_instr;
`else
    logic [31:0] pc_q;   // the last instruction fetch (the board has no debugger to ask)
    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        pc_q <= accel_pkg::ROM_BASE;
      end else if (cpu_valid && cpu_instr) begin
        pc_q <= cpu_addr;
      end
    end
    assign pc_o = pc_q;
`endif

`ifdef SIM
    // Retired instructions, counted here so that the harness has them whether or not the CPU has
    // its counter CSRs (CpuCounters): PicoRV32 increments count_instr exactly when it leaves the
    // fetch state with a decoded instruction (cpu_state_fetch and decoder_trigger, no IRQs).
    logic [31:0] instret_q;
    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        instret_q <= 32'd0;
      end else if (u_cpu.cpu_state == 8'b0100_0000 && u_cpu.decoder_trigger) begin
        instret_q <= instret_q + 32'd1;
      end
    end
    assign instret_o = instret_q;
`else
    assign instret_o = 32'd0;
`endif
  end

  // ---------------------------------------------------------------------------------------------
  // Address decode
  // ---------------------------------------------------------------------------------------------
  logic sel_rom, sel_ram, sel_flash, sel_sys, sel_conv, sel_pe, sel_none;
  always_comb begin
    // each region is a power of two at a multiple of its size (checked below): a mask compare
    // instead of subtractors (carry chains)
    sel_rom   = ((cpu_addr & ~(accel_pkg::ROM_SIZE - 1)) == accel_pkg::ROM_BASE);
    sel_ram   = ((cpu_addr & ~(accel_pkg::RAM_SIZE - 1)) == accel_pkg::RAM_BASE);
    sel_flash = ((cpu_addr & ~(accel_pkg::FLASH_SIZE - 1)) == accel_pkg::FLASH_BASE)
                && (cpu_wstrb == 4'd0);
    sel_sys   = (cpu_addr[31:12] == accel_pkg::SYS_BASE[31:12]);
    sel_conv  = (cpu_addr[31:12] == accel_pkg::CONV_BASE[31:12]);
    sel_pe    = (cpu_addr[31:12] == accel_pkg::PENGINE_BASE[31:12]);
    sel_none  = !(sel_rom || sel_ram || sel_flash || sel_sys || sel_conv || sel_pe);
  end

  // ---------------------------------------------------------------------------------------------
  // Boot ROM (generated, one EBR: copies the firmware from flash to RAM; writes are ignored)
  // ---------------------------------------------------------------------------------------------
  logic [31:0] rom_rdata_q;
  logic        simple_ready_q;   // ROM, SYS, absent engines and the default responder

  soc_boot_rom u_rom (   // registered read: an EBR
    .clk_i  (clk_i),
    .addr_i (cpu_addr[RomAw+1:2]),
    .data_q (rom_rdata_q)
  );

  // ---------------------------------------------------------------------------------------------
  // System registers: UART TX, UART RX, EXIT, CYCLES
  // ---------------------------------------------------------------------------------------------
  logic        uart_busy, uart_wr, sys_stall, wait_rd, engines_busy;
  logic        rx_pop, rx_valid, rx_overrun, rx_ferr;
  logic [7:0]  rx_data;
  logic        conv_busy, pe_busy;
  logic [31:0] cycles_q;
  logic        exited_q;
  logic [31:0] exit_code_q;
  logic        exit_wr;

  assign uart_wr   = cpu_valid && sel_sys && (cpu_wstrb != 4'd0) && !simple_ready_q
                     && (cpu_addr[11:0] == accel_pkg::SYS_UART_DATA);
  assign wait_rd   = cpu_valid && sel_sys && (cpu_wstrb == 4'd0)
                     && (cpu_addr[11:0] == accel_pkg::SYS_ENGINE_WAIT);
  assign engines_busy = conv_busy || pe_busy;
  // UART writes wait for the transmitter, ENGINE_WAIT reads for the engines.
  assign sys_stall = (uart_wr && uart_busy) || (wait_rd && engines_busy);
  assign exit_wr   = cpu_valid && sel_sys && (cpu_wstrb != 4'd0) && !simple_ready_q
                     && (cpu_addr[11:0] == accel_pkg::SYS_EXIT);

  soc_uart_tx #(
    .Div (UartDiv)
  ) u_uart (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (uart_wr && !uart_busy),
    .data_i  (cpu_wdata[7:0]),
    .busy_o  (uart_busy),
    .tx_o    (uart_tx_o)
  );

  // A read of UART_RX pops the holding register in the request's first cycle; the registered
  // read data (sys_rdata_q) still holds the value from before the pop.
  assign rx_pop = cpu_valid && sel_sys && (cpu_wstrb == 4'd0) && !simple_ready_q
                  && (cpu_addr[11:0] == accel_pkg::SYS_UART_RX);

  soc_uart_rx #(
    .Div (UartDiv)
  ) u_uart_rx (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .rx_i        (uart_rx_i),
    .pop_i       (rx_pop),
    .valid_o     (rx_valid),
    .data_o      (rx_data),
    .overrun_o   (rx_overrun),
    .frame_err_o (rx_ferr)
  );

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      cycles_q    <= 32'd0;
      exited_q    <= 1'b0;
      exit_code_q <= 32'd0;
    end else begin
      cycles_q <= cycles_q + 32'd1;
      if (exit_wr) begin
        exited_q    <= 1'b1;
        exit_code_q <= cpu_wdata;
      end
    end
  end

  assign uart_valid_o = uart_wr && !uart_busy;
  assign uart_data_o  = cpu_wdata[7:0];
  assign exit_valid_o = exit_wr;
  assign exited_o     = exited_q;
  assign exit_code_o  = exit_wr ? cpu_wdata : exit_code_q;  // valid with exit_valid_o
  assign cycle_o      = cycles_q;

  logic [31:0] sys_rdata;
  always_comb begin
    sys_rdata = 32'd0;
    if (cpu_addr[11:0] == accel_pkg::SYS_UART_DATA) begin
      sys_rdata = {31'd0, uart_busy};
    end else if (cpu_addr[11:0] == accel_pkg::SYS_CYCLES) begin
      sys_rdata = cycles_q;
    end else if (cpu_addr[11:0] == accel_pkg::SYS_UART_RX) begin
      sys_rdata = (32'(rx_data) << accel_pkg::SYS_UART_RX_DATA_LSB)
                | (32'(rx_valid) << accel_pkg::SYS_UART_RX_VALID_LSB)
                | (32'(rx_overrun) << accel_pkg::SYS_UART_RX_OVERRUN_LSB)
                | (32'(rx_ferr) << accel_pkg::SYS_UART_RX_FERR_LSB);
    end else if (cpu_addr[11:0] == accel_pkg::SYS_ENGINE_WAIT) begin
      sys_rdata = (32'(EnableConv) << accel_pkg::SYS_ENGINE_WAIT_CONV_LSB)
                | (32'(EnablePengine) << accel_pkg::SYS_ENGINE_WAIT_PENGINE_LSB);
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Simple slaves' handshake: ready one cycle after valid (UART writes: once the TX is free;
  // ENGINE_WAIT reads: once no engine is busy). Absent engines answer like unmapped space.
  // ---------------------------------------------------------------------------------------------
  logic        simple_sel;
  logic [31:0] sys_rdata_q;
  assign simple_sel = sel_rom || sel_sys || sel_none || (sel_conv && !EnableConv)
                      || (sel_pe && !EnablePengine);
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      simple_ready_q <= 1'b0;
    end else begin
      simple_ready_q <= cpu_valid && simple_sel && !simple_ready_q && !sys_stall;
    end
    sys_rdata_q <= sys_rdata;
  end

  // ---------------------------------------------------------------------------------------------
  // NP conv engine
  // ---------------------------------------------------------------------------------------------
  logic        conv_reg_ready;
  logic [31:0] conv_reg_rdata;
  logic        conv_mem_valid, conv_mem_ready;
  logic [31:0] conv_mem_addr, conv_mem_wdata;
  logic [3:0]  conv_mem_wstrb;

  if (EnableConv) begin : g_conv
    conv_engine #(
      .Lanes     (ConvLanes),
      .FifoDepth (ConvFifoDepth),
      .AddrBits  (ConvAddrBits)
    ) u_conv (
      .clk_i       (clk_i),
      .rst_ni      (rst_ni),
      .reg_valid_i (cpu_valid && sel_conv),
      .reg_we_i    (cpu_wstrb != 4'd0),
      .reg_addr_i  (cpu_addr[accel_pkg::CONV_AW-1:0]),
      .reg_wdata_i (cpu_wdata),
      .reg_rdata_o (conv_reg_rdata),
      .reg_ready_o (conv_reg_ready),
      .mem_valid_o (conv_mem_valid),
      .mem_ready_i (conv_mem_ready),
      .mem_addr_o  (conv_mem_addr),
      .mem_wdata_o (conv_mem_wdata),
      .mem_wstrb_o (conv_mem_wstrb),
      .mem_rdata_i (ram_rdata),
      .busy_o      (conv_busy)
    );
  end else begin : g_no_conv
    assign conv_reg_ready = 1'b0;
    assign conv_reg_rdata = 32'd0;
    assign conv_mem_valid = 1'b0;
    assign conv_mem_addr  = 32'd0;
    assign conv_mem_wdata = 32'd0;
    assign conv_mem_wstrb = 4'd0;
    assign conv_busy      = 1'b0;
    logic unused_conv_mem_ready;
    assign unused_conv_mem_ready = conv_mem_ready;
  end

  // ---------------------------------------------------------------------------------------------
  // P-layer engine
  // ---------------------------------------------------------------------------------------------
  logic        pe_reg_ready;
  logic [31:0] pe_reg_rdata;
  logic        pe_arb_valid;
  logic [31:0] pe_mem_addr, pe_mem_wdata;
  logic [3:0]  pe_mem_wstrb;

  if (EnablePengine) begin : g_pengine
    // The RAM's answer reaches the P engine one cycle late, from registers: the engine forwards
    // read data straight into its entry decoder, cursor adder and input-word compare, and that
    // path behind the arbiter and the SPRAM's output ran at 18 MHz on the board (21.75 needed).
    // Cost: 3 cycles per P-engine transaction instead of 2. The request stays masked from the
    // arbiter in the late cycle so that it counts once.
    logic        pe_mem_valid, pe_mem_ready, pe_late_q, pe_arb_ready;
    logic [31:0] pe_rdata_q;
    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        pe_late_q <= 1'b0;
      end else begin
        pe_late_q <= pe_arb_ready;
      end
      pe_rdata_q <= ram_rdata;
    end
    assign pe_arb_ready = ram_m_ready[2];
    assign pe_mem_ready = pe_late_q;
    assign pe_arb_valid = pe_mem_valid && !pe_late_q;

    pengine #(
      .AddrW (EngineAddrBits)
    ) u_pengine (
      .clk_i       (clk_i),
      .rst_ni      (rst_ni),
      .reg_valid_i (cpu_valid && sel_pe),
      .reg_ready_o (pe_reg_ready),
      .reg_addr_i  (cpu_addr[11:0]),
      .reg_wdata_i (cpu_wdata),
      .reg_wstrb_i (cpu_wstrb),
      .reg_rdata_o (pe_reg_rdata),
      .mem_valid_o (pe_mem_valid),
      .mem_ready_i (pe_mem_ready),
      .mem_addr_o  (pe_mem_addr),
      .mem_wdata_o (pe_mem_wdata),
      .mem_wstrb_o (pe_mem_wstrb),
      .mem_rdata_i (pe_rdata_q),
      .busy_o      (pe_busy)
    );
  end else begin : g_no_pengine
    assign pe_reg_ready = 1'b0;
    assign pe_reg_rdata = 32'd0;
    assign pe_mem_addr  = 32'd0;
    assign pe_mem_wdata = 32'd0;
    assign pe_mem_wstrb = 4'd0;
    assign pe_busy      = 1'b0;
    assign pe_arb_valid = 1'b0;
    logic unused_pe_arb_ready;
    assign unused_pe_arb_ready = ram_m_ready[2];
  end

  // ---------------------------------------------------------------------------------------------
  // RAM: arbiter (0 = CPU, 1 = conv engine, 2 = P engine) + SPRAM
  // ---------------------------------------------------------------------------------------------
  logic [2:0]       ram_m_ready;
  logic [31:0]      ram_rdata, spram_rdata, spram_wdata;
  logic [14:0]      spram_addr;
  logic [3:0]       spram_wen;

  soc_ram_arbiter #(
    .N      (3),
    .WordAw (15)
  ) u_arbiter (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .m_valid_i   ({pe_arb_valid, conv_mem_valid, cpu_valid && sel_ram}),
    .m_addr_i    ({pe_mem_addr, conv_mem_addr, cpu_addr}),
    .m_wdata_i   ({pe_mem_wdata, conv_mem_wdata, cpu_wdata}),
    .m_wstrb_i   ({pe_mem_wstrb, conv_mem_wstrb, cpu_wstrb}),
    .m_ready_o   (ram_m_ready),
    .rdata_o     (ram_rdata),
    .ram_addr_o  (spram_addr),
    .ram_wen_o   (spram_wen),
    .ram_wdata_o (spram_wdata),
    .ram_rdata_i (spram_rdata)
  );
  assign conv_mem_ready = ram_m_ready[1];

  soc_spram u_spram (
    .clk_i   (clk_i),
    .wen_i   (spram_wen),
    .addr_i  (spram_addr),
    .wdata_i (spram_wdata),
    .rdata_o (spram_rdata)
  );

  // ---------------------------------------------------------------------------------------------
  // SPI flash read window
  // ---------------------------------------------------------------------------------------------
  logic        flash_ready;
  logic [31:0] flash_rdata;
  logic [2:0]  unused_flash_di;

  // single SPI: io0 = MOSI (driven), io1 = MISO, io2/io3 (WP#, HOLD#) not driven, as spimemio
  // left them in its single-SPI mode
  soc_flash u_flash (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (cpu_valid && sel_flash),
    .addr_i  (cpu_addr[23:2]),
    .ready_o (flash_ready),
    .rdata_o (flash_rdata),
    .csb_o   (flash_csb_o),
    .sck_o   (flash_clk_o),
    .mosi_o  (flash_io_do_o[0]),
    .miso_i  (flash_io_di_i[1])
  );
  assign flash_io_oe_o       = 4'b0001;
  assign flash_io_do_o[3:1]  = 3'b000;
  assign unused_flash_di     = {flash_io_di_i[3:2], flash_io_di_i[0]};

  // ---------------------------------------------------------------------------------------------
  // CPU read data / ready
  // ---------------------------------------------------------------------------------------------
  always_comb begin
    cpu_ready = 1'b0;
    cpu_rdata = 32'd0;
    if (sel_ram) begin
      cpu_ready = ram_m_ready[0];
      cpu_rdata = ram_rdata;
    end else if (sel_flash) begin
      cpu_ready = flash_ready;
      cpu_rdata = flash_rdata;
    end else if (sel_conv && EnableConv) begin
      cpu_ready = conv_reg_ready;
      cpu_rdata = conv_reg_rdata;
    end else if (sel_pe && EnablePengine) begin
      cpu_ready = pe_reg_ready;
      cpu_rdata = pe_reg_rdata;
    end else begin
      cpu_ready = simple_ready_q;
      if (sel_rom) begin
        cpu_rdata = rom_rdata_q;
      end else if (sel_sys) begin
        cpu_rdata = sys_rdata_q;
      end
    end
  end
endmodule

`default_nettype wire
