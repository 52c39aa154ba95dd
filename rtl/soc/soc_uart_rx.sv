// UART receiver, 8N1, LSB first, the counterpart of soc_uart_tx. One bit lasts `Div` clock
// cycles (board: BOARD_CLOCK_HZ / UART_BAUD, accel_pkg::BOARD_UART_DIV).
//
// The line passes a two-flip-flop synchroniser. A falling edge starts a frame; the start bit is
// checked again half a bit later (a glitch shorter than that is ignored), then each data bit
// and the stop bit are sampled in the middle of their bit time. A received byte waits in a
// one-byte holding register (`valid_o`) until `pop_i`; a byte that completes while the previous
// one was not popped is dropped and sets `overrun_o`, a stop bit that reads 0 drops the byte and
// sets `frame_err_o` (both sticky until `pop_i`). The firmware's protocol reader
// (firmware::proto) turns either into an error reply; at UART_BAUD it has about
// 10 * Div cycles per byte (910 at 230400 baud and the board's 21.0 MHz).
//
// Reset: synchronous, active low, control state only (the data registers are qualified by
// `valid_o`).
`default_nettype none

module soc_uart_rx #(
  parameter int unsigned Div = accel_pkg::BOARD_UART_DIV
) (
  input  wire logic       clk_i,
  input  wire logic       rst_ni,
  input  wire logic       rx_i,         // the line, idle high (asynchronous)
  input  wire logic       pop_i,        // the CPU read the holding register
  output logic            valid_o,      // a byte waits in data_o
  output logic [7:0]      data_o,
  output logic            overrun_o,    // a byte was lost (sticky until pop_i)
  output logic            frame_err_o   // a stop bit was 0 (sticky until pop_i)
);
  initial begin
    if (Div < 4 || Div > 65535) begin
      $error("soc_uart_rx: Div must be in 4..65535");
    end
  end

  typedef enum logic [1:0] {
    StIdle,
    StStart,   // half a bit into the start bit
    StData,    // sampling data bits 0..7, then the stop bit
    StStop
  } state_e;

  state_e      state_q, state_d;
  logic [2:0]  sync_q;             // synchroniser, newest in [0]: [1] is the line, [2] its last value
  logic [15:0] div_q, div_d;       // cycles to the next sample point
  logic [2:0]  bit_q, bit_d;       // data bit being received
  logic [7:0]  shreg_q, shreg_d;
  logic        valid_q, valid_d, overrun_q, overrun_d, ferr_q, ferr_d;
  logic [7:0]  data_q, data_d;
  logic        line, fell;

  assign line = sync_q[1];
  assign fell = sync_q[2] && !sync_q[1];

  always_comb begin
    state_d   = state_q;
    div_d     = div_q;
    bit_d     = bit_q;
    shreg_d   = shreg_q;
    valid_d   = valid_q;
    overrun_d = overrun_q;
    ferr_d    = ferr_q;
    data_d    = data_q;
    if (pop_i) begin
      valid_d   = 1'b0;
      overrun_d = 1'b0;
      ferr_d    = 1'b0;
    end
    unique case (state_q)
      StIdle: begin
        if (fell) begin
          state_d = StStart;
          div_d   = 16'(Div / 2 - 1);
        end
      end
      StStart: begin
        if (div_q != 16'd0) begin
          div_d = div_q - 16'd1;
        end else if (line) begin
          state_d = StIdle;                 // a glitch, not a start bit
        end else begin
          state_d = StData;
          div_d   = 16'(Div - 1);
          bit_d   = 3'd0;
        end
      end
      StData: begin
        if (div_q != 16'd0) begin
          div_d = div_q - 16'd1;
        end else begin
          shreg_d = {line, shreg_q[7:1]};
          div_d   = 16'(Div - 1);
          bit_d   = bit_q + 3'd1;
          if (bit_q == 3'd7) begin
            state_d = StStop;
          end
        end
      end
      StStop: begin
        if (div_q != 16'd0) begin
          div_d = div_q - 16'd1;
        end else begin
          state_d = StIdle;
          if (!line) begin
            ferr_d = 1'b1;
          end else if (valid_d) begin
            overrun_d = 1'b1;
          end else begin
            valid_d = 1'b1;
            data_d  = shreg_q;
          end
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q   <= StIdle;
      sync_q    <= 3'b111;
      valid_q   <= 1'b0;
      overrun_q <= 1'b0;
      ferr_q    <= 1'b0;
    end else begin
      state_q   <= state_d;
      sync_q    <= {sync_q[1:0], rx_i};
      valid_q   <= valid_d;
      overrun_q <= overrun_d;
      ferr_q    <= ferr_d;
    end
    div_q   <= div_d;
    bit_q   <= bit_d;
    shreg_q <= shreg_d;
    data_q  <= data_d;
  end

  assign valid_o     = valid_q;
  assign data_o      = data_q;
  assign overrun_o   = overrun_q;
  assign frame_err_o = ferr_q;
endmodule

`default_nettype wire
