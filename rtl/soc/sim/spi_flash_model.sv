// Behavioural SPI NOR flash for simulation: single-SPI READ (0x03, 24-bit address, no dummy
// cycles), which is what the SoC's soc_flash issues after reset (0xFF, 0xAB, then 0x03 reads; the
// model starts in deep power-down, like a flash the FPGA's configuration left asleep: it ignores
// every command until a complete 0xAB (release from power-down), so a reader that forgets the
// wake-up reads 0s and the boot ROM stops). Other commands read as 0. Dual/quad modes are not
// modelled (soc_flash has none).
//
// Sampled on the system clock (the SPI clock is a register of the same clock domain, toggling at
// most every cycle), so no derived clocks: a rising SCK edge is seen one system cycle after it
// happens, when MOSI still holds its bit; MISO is a function of the rising-edge count, so the bit
// is on the wire during the low and high phase before soc_flash samples it (as SCK falls).
//
// Contents: erased (0xFF), then `+flash=<file>` (SIM only) loaded with $readmemh: one byte per
// entry, `@offset` lines allowed, e.g. `objcopy -I binary -O verilog --change-addresses 0x100000`.
`default_nettype none

module spi_flash_model #(
  parameter int unsigned SizeLog2 = 21   // 2 MB
) (
  input  wire logic clk_i,
  input  wire logic csb_i,
  input  wire logic sck_i,
  input  wire logic mosi_i,
  output logic      miso_o
);
  localparam int unsigned Size = 1 << SizeLog2;

  logic [7:0]  mem [Size];
  logic        sck_q, csb_q;
  logic        awake_q = 1'b0;  // deep power-down until a complete 0xAB
  logic [31:0] edges_q;        // rising SCK edges since CS went low
  logic [7:0]  cmd_q;
  logic [23:0] addr_q;

  initial begin
    string path;
    for (int i = 0; i < Size; i++) begin
      mem[i] = 8'hFF;
    end
`ifdef SIM
    if ($value$plusargs("flash=%s", path)) begin
      $readmemh(path, mem);
    end
`endif
  end

  always_ff @(posedge clk_i) begin
    sck_q <= sck_i;
    csb_q <= csb_i;
    if (csb_i && !csb_q && edges_q == 32'd8 && cmd_q == 8'hAB) begin
      awake_q <= 1'b1;
    end
    if (csb_i) begin
      edges_q <= 32'd0;
    end else if (sck_i && !sck_q) begin
      edges_q <= edges_q + 32'd1;
      if (edges_q < 32'd8) begin
        cmd_q <= {cmd_q[6:0], mosi_i};
      end else if (edges_q < 32'd32) begin
        addr_q <= {addr_q[22:0], mosi_i};
      end
    end
  end

  logic [31:0] data_bit;
  logic [7:0]  data_byte;
  always_comb begin
    data_bit  = edges_q - 32'd32;
    data_byte = mem[SizeLog2'(addr_q + 24'(data_bit >> 3))];
    miso_o    = 1'b0;
    if (awake_q && !csb_i && cmd_q == 8'h03 && edges_q >= 32'd32) begin
      miso_o = data_byte[3'd7 - data_bit[2:0]];
    end
  end
endmodule

`default_nettype wire
