// Generated from rtl/regmap/accel.toml by `cargo xtask codegen`; do not edit.
// Edit the TOML file and re-run the generator (`--check` verifies in CI).
// SoC boot ROM (see xtask/src/bootrom.rs): copies the firmware image from FLASH_FW to FW in RAM
// and jumps to it; without a valid image (magic CNFW, length <= FW_LEN) it writes
// 0xb0 to SYS.EXIT and halts. Read-only; the read is registered (an EBR on the iCE40).
`default_nettype none

module soc_boot_rom (
  input  wire logic        clk_i,
  input  wire logic [5:0] addr_i,  // word index
  output logic      [31:0] data_q   // the word at the previous cycle's addr_i
);
  (* ram_style = "block" *) logic [31:0] mem_q [64];  // yosys: an EBR, not LUTs
  initial begin
    mem_q[0] = 32'h01100537;  // 0x0000: lui a0, 0x1100
    mem_q[1] = 32'h00052283;  // 0x0004: lw t0, 0(a0)
    mem_q[2] = 32'h00452603;  // 0x0008: lw a2, 4(a0)
    mem_q[3] = 32'h00852303;  // 0x000c: lw t1, 8(a0)
    mem_q[4] = 32'h00c52303;  // 0x0010: lw t1, 12(a0)
    mem_q[5] = 32'h57465337;  // 0x0014: lui t1, 0x57465
    mem_q[6] = 32'he4330313;  // 0x0018: addi t1, t1, -445
    mem_q[7] = 32'h02629e63;  // 0x001c: bne t0, t1, fail
    mem_q[8] = 32'h0000a3b7;  // 0x0020: lui t2, 0xa
    mem_q[9] = 32'ha0038393;  // 0x0024: addi t2, t2, -1536
    mem_q[10] = 32'h02c3e863;  // 0x0028: bltu t2, a2, fail
    mem_q[11] = 32'h01050513;  // 0x002c: addi a0, a0, 16
    mem_q[12] = 32'h000205b7;  // 0x0030: lui a1, 0x20
    mem_q[13] = 32'h00b60633;  // 0x0034: add a2, a2, a1
    mem_q[14] = 32'h00c5fc63;  // 0x0038: bgeu a1, a2, go
    mem_q[15] = 32'h00052283;  // 0x003c: lw t0, 0(a0)
    mem_q[16] = 32'h0055a023;  // 0x0040: sw t0, 0(a1)
    mem_q[17] = 32'h00450513;  // 0x0044: addi a0, a0, 4
    mem_q[18] = 32'h00458593;  // 0x0048: addi a1, a1, 4
    mem_q[19] = 32'hfedff06f;  // 0x004c: jal zero, copy
    mem_q[20] = 32'h000200b7;  // 0x0050: lui ra, 0x20
    mem_q[21] = 32'h00008067;  // 0x0054: jalr zero, 0(ra)
    mem_q[22] = 32'hf00002b7;  // 0x0058: lui t0, 0xf0000
    mem_q[23] = 32'h0b000313;  // 0x005c: addi t1, zero, 176
    mem_q[24] = 32'h0062a223;  // 0x0060: sw t1, 4(t0)
    mem_q[25] = 32'h0000006f;  // 0x0064: jal zero, halt
    for (int i = 26; i < 64; i++) begin
      mem_q[i] = 32'h00000000;
    end
  end
  always_ff @(posedge clk_i) begin
    data_q <= mem_q[addr_i];
  end
endmodule

`default_nettype wire
