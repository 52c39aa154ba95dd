// SPI flash read window: single-SPI READ (0x03, 24-bit address, no dummy cycles), one 32-bit
// little-endian word per bus read, sequential words streamed without a new command. All the
// SoC needs (the boot ROM copies the firmware, the firmware copies the model blob and the input
// image, all with ascending word loads), in about a third of picosoc's spimemio (which also
// does dual/quad/DDR modes and a configuration register the SoC never used).
//
// After reset it sends 0xFF (leaves a continuous-read mode a previous design may have left the
// flash in) and 0xAB (release from deep power-down), then keeps CS high for WakeCycles cycles
// (tRES1: 3 us on the W25Q128 = 63 cycles at the board's 21.0 MHz) before the first read, as spimemio did.
//
// SPI mode 0 at half the system clock: one shift register for both directions, shifted at every
// falling SCK edge: MOSI (its MSB) changes as SCK falls and is stable across the rising edge,
// MISO enters at the LSB as SCK falls, i.e. at the end of the high phase, which the flash
// drives from the falling edge before (the whole low and high phase: 2 cycles). A read whose word address
// follows the previous one continues the open READ (CS stays low between words, SCK stays low:
// 64 cycles per word); any other address raises CS for one cycle and sends a new command (128
// cycles for the first word).
//
// Bus: PicoRV32 native, read only: `valid_i` held until `ready_o` (one cycle); a write reads
// and its data is dropped (soc_core routes flash writes elsewhere anyway).
//
// Reset: synchronous, active low (the SoC convention).
`default_nettype none

module soc_flash #(
  parameter int unsigned WakeCycles = 128  // CS high after 0xAB before the first READ (8..255)
) (
  input  wire logic        clk_i,
  input  wire logic        rst_ni,
  input  wire logic        valid_i,
  input  wire logic [21:0] addr_i,   // word address in the flash (byte address [23:2])
  output logic             ready_o,
  output logic [31:0]      rdata_o,
  output logic             csb_o,
  output logic             sck_o,
  output logic             mosi_o,
  input  wire logic        miso_i
);
  typedef enum logic [2:0] {
    StInit,   // CS low, shifting out the 8-bit command in sh_q[31:24] (0xFF, then 0xAB)
    StWake,   // CS high, counting down cnt_q (after 0xFF: 1 cycle; after 0xAB: WakeCycles)
    StIdle,   // waiting for a read (CS low while a READ is open)
    StGap,    // CS high for one cycle, then the READ command
    StCmd,    // CS low, shifting out {0x03, address}
    StData,   // shifting in 32 bits
    StDone    // ready_o
  } state_e;

  state_e       state_q, state_d;
  logic [31:0]  sh_q, sh_d;
  logic [7:0]   cnt_q, cnt_d;      // falling edges of this command or word, or wake cycles left
  logic         sck_q, sck_d, csb_q, csb_d, ab_q, ab_d;
  logic [21:0]  next_q, next_d;    // word address the open READ delivers next
  logic         open_q, open_d;    // a READ is open (CS low)
  logic         shifting, fall, load;

  assign sck_o   = sck_q;
  assign csb_o   = csb_q;
  assign mosi_o  = sh_q[31];
  assign ready_o = state_q == StDone;
  // the first byte received is the lowest address: little-endian word
  assign rdata_o = {sh_q[7:0], sh_q[15:8], sh_q[23:16], sh_q[31:24]};

  always_comb begin
    shifting = state_q == StInit || state_q == StCmd || state_q == StData;
    fall     = shifting && sck_q;
    sck_d    = shifting && !sck_q;
    state_d  = state_q;
    cnt_d    = fall ? cnt_q + 8'd1 : cnt_q;
    csb_d    = csb_q;
    ab_d     = ab_q;
    next_d   = next_q;
    open_d   = open_q;
    load     = 1'b0;
    unique case (state_q)
      StInit: begin
        if (fall && cnt_q == 8'd7) begin
          csb_d   = 1'b1;
          state_d = StWake;
          cnt_d   = ab_q ? 8'(WakeCycles) : 8'd1;
        end
      end
      StWake: begin
        cnt_d = cnt_q - 8'd1;
        if (cnt_q == 8'd1) begin
          if (!ab_q) begin
            ab_d    = 1'b1;                      // 0xAB next (loaded below)
            csb_d   = 1'b0;
            load    = 1'b1;
            cnt_d   = '0;
            state_d = StInit;
          end else begin
            state_d = StIdle;
          end
        end
      end
      StIdle: begin
        if (valid_i) begin
          if (open_q && addr_i == next_q) begin
            state_d = StData;                    // the open READ delivers this word next
          end else begin
            csb_d   = 1'b1;
            state_d = StGap;
          end
        end
      end
      StGap: begin
        csb_d   = 1'b0;
        load    = 1'b1;
        cnt_d   = '0;
        next_d  = addr_i;
        state_d = StCmd;
      end
      StCmd: begin
        if (fall && cnt_q == 8'd31) begin
          cnt_d   = '0;
          state_d = StData;
        end
      end
      StData: begin
        if (fall && cnt_q == 8'd31) begin
          cnt_d   = '0;
          next_d  = next_q + 22'd1;
          open_d  = 1'b1;
          state_d = StDone;
        end
      end
      StDone: state_d = StIdle;
      default: state_d = StIdle;
    endcase
    // 0xAB during the start-up sequence, else the READ command
    if (load) sh_d = ab_q ? {8'h03, addr_i, 2'b00} : {8'hAB, 24'd0};
    else if (fall) sh_d = {sh_q[30:0], miso_i};
    else sh_d = sh_q;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q <= StInit;
      sh_q    <= {8'hFF, 24'd0};
      cnt_q   <= '0;
      sck_q   <= 1'b0;
      csb_q   <= 1'b0;
      ab_q    <= 1'b0;
      open_q  <= 1'b0;
    end else begin
      state_q <= state_d;
      sh_q    <= sh_d;
      cnt_q   <= cnt_d;
      sck_q   <= sck_d;
      csb_q   <= csb_d;
      ab_q    <= ab_d;
      open_q  <= open_d;
    end
  end

  always_ff @(posedge clk_i) begin
    next_q <= next_d;
  end

  initial begin
    if (WakeCycles < 8 || WakeCycles > 255) $error("soc_flash: WakeCycles must be in 8..255");
  end
endmodule : soc_flash

`default_nettype wire
