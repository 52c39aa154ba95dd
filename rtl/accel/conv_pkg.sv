// Internal types of the conv engine (not part of the register map; see rtl/gen/accel_pkg.sv
// for everything software sees).
`default_nettype none

package conv_pkg;

  // What the bytes of a fetched segment are.
  typedef enum logic [2:0] {
    KindBias   = 3'd0,  // i32 LE biases of the group's lanes
    KindMult   = 3'd1,  // u16 LE multipliers
    KindShift  = 3'd2,  // u8 shifts
    KindWeight = 3'd3,  // k*k*cin i8 weights of one lane
    KindAct    = 3'd4   // k*cin u8 activations: one kernel row of one window
  } seg_kind_e;

  // Tag carried by every segment from the address generator, through the fetch FIFO, to the
  // consumer, so the consumer needs no loop counters of its own.
  typedef struct packed {
    logic      last_seg;  // final segment of the layer
    logic      pix_last;  // window is the last of its output pixel (pool: 4th window)
    logic      pix_first; // window is the first of its output pixel
    logic      win_last;  // segment is the last kernel row of its window
    logic      win_first; // segment is the first kernel row of its window
    seg_kind_e kind;
  } seg_tag_t;

endpackage : conv_pkg

`default_nettype wire
