// Generated from rtl/regmap/accel.toml by `cargo xtask codegen`; do not edit.
// Edit the TOML file and re-run the generator (`--check` verifies in CI).
// SoC boot ROM (see xtask/src/bootrom.rs): copies the firmware image from FLASH_FW to FW in RAM
// and jumps to it; without a valid image (magic CNFW, length <= FW_LEN) it writes
// 0xb0 to SYS.EXIT and halts. Read-only, combinational; the SoC registers the output.
`default_nettype none

module soc_boot_rom (
  input  wire logic [5:0] addr_i,  // word index
  output logic      [31:0] data_o
);
  always_comb begin
    case (addr_i)
      6'd0: data_o = 32'h01100537;  // 0x0000: lui a0, 0x1100
      6'd1: data_o = 32'h00052283;  // 0x0004: lw t0, 0(a0)
      6'd2: data_o = 32'h00452603;  // 0x0008: lw a2, 4(a0)
      6'd3: data_o = 32'h00852303;  // 0x000c: lw t1, 8(a0)
      6'd4: data_o = 32'h00c52303;  // 0x0010: lw t1, 12(a0)
      6'd5: data_o = 32'h57465337;  // 0x0014: lui t1, 0x57465
      6'd6: data_o = 32'he4330313;  // 0x0018: addi t1, t1, -445
      6'd7: data_o = 32'h02629c63;  // 0x001c: bne t0, t1, fail
      6'd8: data_o = 32'h000083b7;  // 0x0020: lui t2, 0x8
      6'd9: data_o = 32'h02c3e863;  // 0x0024: bltu t2, a2, fail
      6'd10: data_o = 32'h01050513;  // 0x0028: addi a0, a0, 16
      6'd11: data_o = 32'h000205b7;  // 0x002c: lui a1, 0x20
      6'd12: data_o = 32'h00b60633;  // 0x0030: add a2, a2, a1
      6'd13: data_o = 32'h00c5fc63;  // 0x0034: bgeu a1, a2, go
      6'd14: data_o = 32'h00052283;  // 0x0038: lw t0, 0(a0)
      6'd15: data_o = 32'h0055a023;  // 0x003c: sw t0, 0(a1)
      6'd16: data_o = 32'h00450513;  // 0x0040: addi a0, a0, 4
      6'd17: data_o = 32'h00458593;  // 0x0044: addi a1, a1, 4
      6'd18: data_o = 32'hfedff06f;  // 0x0048: jal zero, copy
      6'd19: data_o = 32'h000200b7;  // 0x004c: lui ra, 0x20
      6'd20: data_o = 32'h00008067;  // 0x0050: jalr zero, 0(ra)
      6'd21: data_o = 32'hf00002b7;  // 0x0054: lui t0, 0xf0000
      6'd22: data_o = 32'h0b000313;  // 0x0058: addi t1, zero, 176
      6'd23: data_o = 32'h0062a223;  // 0x005c: sw t1, 4(t0)
      6'd24: data_o = 32'h0000006f;  // 0x0060: jal zero, halt
      default: data_o = 32'h00000000;
    endcase
  end
endmodule

`default_nettype wire
