// Internal constants of the conv engine (not part of the register map; see rtl/gen/accel_pkg.sv
// for everything software sees). Plain localparams and vectors only: yosys 0.23 (the iCE40
// flow) accepts `conv_pkg::NAME` references but neither `import pkg::*;` in a module header
// nor package-typed (struct/enum) ports, so the segment tag is a TAG_W-bit vector with the
// field positions below.
`default_nettype none

package conv_pkg;

  // What the bytes of a fetched segment are (tag bits [TAG_KIND +: 3]).
  localparam logic [2:0] KIND_PARAM  = 3'd0;  // 8 bytes per lane: i32 LE bias, u16 LE mult, u8 shift, pad
  localparam logic [2:0] KIND_WEIGHT = 3'd3;  // k*k*cin i8 weights of one lane
  localparam logic [2:0] KIND_ACT    = 3'd4;  // k*cin u8 activations: one kernel row of one window

  // Tag carried by every segment from the address generator, through the fetch FIFO, to the
  // consumer, so the consumer needs no loop counters of its own.
  localparam int unsigned TAG_W         = 8;
  localparam int unsigned TAG_KIND      = 0;  // [2:0] kind (KIND_*)
  localparam int unsigned TAG_WIN_FIRST = 3;  // segment is the first kernel row of its window
  localparam int unsigned TAG_WIN_LAST  = 4;  // segment is the last kernel row of its window
  localparam int unsigned TAG_PIX_FIRST = 5;  // window is the first of its output pixel
  localparam int unsigned TAG_PIX_LAST  = 6;  // window is the last of its output pixel (pool: 4th)
  localparam int unsigned TAG_LAST_SEG  = 7;  // final segment of the layer

endpackage : conv_pkg

`default_nettype wire
