// UART transmitter, 8N1, LSB first. One bit lasts `Div` clock cycles (the board's and the
// simulated board's: accel_pkg::BOARD_UART_DIV = BOARD_CLOCK_HZ / UART_BAUD). `valid_i` with `busy_o`
// low loads a byte.
//
// Reset: synchronous, active low, control state only.
`default_nettype none

module soc_uart_tx #(
  parameter int unsigned Div = accel_pkg::BOARD_UART_DIV
) (
  input  wire logic       clk_i,
  input  wire logic       rst_ni,
  input  wire logic       valid_i,
  input  wire logic [7:0] data_i,
  output logic            busy_o,
  output logic            tx_o
);
  initial begin
    if (Div < 1 || Div > 65535) begin
      $error("soc_uart_tx: Div must be in 1..65535");
    end
  end

  logic [9:0]  shreg_q, shreg_d;   // {stop, data, start}, shifted out LSB first
  logic [3:0]  bits_q, bits_d;     // bits left to send
  logic [15:0] div_q, div_d;       // cycles left in the current bit

  always_comb begin
    shreg_d = shreg_q;
    bits_d  = bits_q;
    div_d   = div_q;
    if (bits_q == 4'd0) begin
      if (valid_i) begin
        shreg_d = {1'b1, data_i, 1'b0};
        bits_d  = 4'd10;
        div_d   = 16'(Div - 1);
      end
    end else if (div_q == 16'd0) begin
      shreg_d = {1'b1, shreg_q[9:1]};
      bits_d  = bits_q - 4'd1;
      div_d   = 16'(Div - 1);
    end else begin
      div_d = div_q - 16'd1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      shreg_q <= 10'h3FF;
      bits_q  <= 4'd0;
      div_q   <= 16'd0;
    end else begin
      shreg_q <= shreg_d;
      bits_q  <= bits_d;
      div_q   <= div_d;
    end
  end

  assign busy_o = (bits_q != 4'd0);
  assign tx_o   = shreg_q[0];
endmodule

`default_nettype wire
