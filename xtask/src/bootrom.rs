//! The SoC boot ROM, generated from the register map into `rtl/gen/soc_boot_rom.sv` (by
//! `cargo xtask codegen`, with the other generated files).
//!
//! The program (RV32I, no compressed instructions) checks the firmware image header at
//! `FLASH_FW_ADDR` (magic `CNFW`, length <= `FW_LEN`), copies the binary after the 16-byte
//! header to `FW_ADDR` with ascending word loads (`soc_flash` streams sequential words) and jumps
//! to `FW_ADDR`. Without a valid image it writes [`BOOT_FAIL`] to `SYS.EXIT` and halts.
//! The image format is in `firmware::memmap` (`FW_MAGIC`, `FW_HEADER_LEN`, `FW_FLAG_*`).
//!
//! The encoder below is a tiny two-pass assembler for the handful of instructions the ROM
//! needs; `xtask/tests/codegen.rs` checks its encodings against hand-assembled words.

use std::fmt::Write as _;

use crate::header::header;
use crate::regmap::RegMap;
use firmware::exit::BOOT_FAIL;

/// Generated SystemVerilog module, relative to the workspace root.
pub const OUT_SV: &str = "rtl/gen/soc_boot_rom.sv";

/// Registers by ABI name.
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum R {
    Zero = 0,
    Ra = 1,
    T0 = 5,
    T1 = 6,
    T2 = 7,
    A0 = 10,
    A1 = 11,
    A2 = 12,
}

impl R {
    fn name(self) -> &'static str {
        match self {
            R::Zero => "zero",
            R::Ra => "ra",
            R::T0 => "t0",
            R::T1 => "t1",
            R::T2 => "t2",
            R::A0 => "a0",
            R::A1 => "a1",
            R::A2 => "a2",
        }
    }
    fn n(self) -> u32 {
        self as u32
    }
}

/// One instruction (labels are resolved by [`assemble`]).
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum Op {
    Label(&'static str),
    Lui(R, u32),
    Addi(R, R, i32),
    Add(R, R, R),
    Lw(R, R, i32),
    Sw(R, R, i32),
    Bne(R, R, &'static str),
    Bltu(R, R, &'static str),
    Bgeu(R, R, &'static str),
    Jal(R, &'static str),
    Jalr(R, R, i32),
}

/// `li rd, value` as `lui` (+ `addi`).
fn li(rd: R, value: u32) -> Vec<Op> {
    let lo = ((value & 0xFFF) as i32) << 20 >> 20; // sign-extended low 12 bits
    let hi = value.wrapping_sub(lo as u32) >> 12;
    match (hi, lo) {
        (0, _) => vec![Op::Addi(rd, R::Zero, lo)],
        (_, 0) => vec![Op::Lui(rd, hi)],
        _ => vec![Op::Lui(rd, hi), Op::Addi(rd, rd, lo)],
    }
}

/// The boot program for `map`.
pub fn program(map: &RegMap) -> Vec<Op> {
    let addr = |n: &str| {
        map.area(n)
            .unwrap_or_else(|| panic!("area {n} missing"))
            .addr(map) as u32
    };
    let len = |n: &str| {
        map.area(n)
            .unwrap_or_else(|| panic!("area {n} missing"))
            .size as u32
    };
    let sys = map.block("SYS").expect("block SYS");
    let exit = sys
        .reg
        .iter()
        .find(|r| r.name == "EXIT")
        .expect("SYS.EXIT")
        .offset as i32;
    let magic = u32::from_le_bytes(firmware::memmap::FW_MAGIC);
    let hdr = firmware::memmap::FW_HEADER_LEN as i32;
    let mut p = Vec::new();
    p.extend(li(R::A0, addr("FLASH_FW")));
    // the whole header, in order (flags and the reserved word are read only to keep the
    // flash stream sequential)
    p.push(Op::Lw(R::T0, R::A0, 0));
    p.push(Op::Lw(R::A2, R::A0, 4));
    p.push(Op::Lw(R::T1, R::A0, 8));
    p.push(Op::Lw(R::T1, R::A0, 12));
    p.extend(li(R::T1, magic));
    p.push(Op::Bne(R::T0, R::T1, "fail"));
    p.extend(li(R::T2, len("FW")));
    p.push(Op::Bltu(R::T2, R::A2, "fail"));
    p.push(Op::Addi(R::A0, R::A0, hdr));
    p.extend(li(R::A1, addr("FW")));
    p.push(Op::Add(R::A2, R::A2, R::A1));
    p.push(Op::Label("copy"));
    p.push(Op::Bgeu(R::A1, R::A2, "go"));
    p.push(Op::Lw(R::T0, R::A0, 0));
    p.push(Op::Sw(R::T0, R::A1, 0));
    p.push(Op::Addi(R::A0, R::A0, 4));
    p.push(Op::Addi(R::A1, R::A1, 4));
    p.push(Op::Jal(R::Zero, "copy"));
    p.push(Op::Label("go"));
    p.extend(li(R::Ra, addr("FW")));
    p.push(Op::Jalr(R::Zero, R::Ra, 0));
    p.push(Op::Label("fail"));
    p.extend(li(R::T0, sys.base as u32));
    p.extend(li(R::T1, BOOT_FAIL));
    p.push(Op::Sw(R::T1, R::T0, exit));
    p.push(Op::Label("halt"));
    p.push(Op::Jal(R::Zero, "halt"));
    p
}

fn i_type(imm: i32, rs1: R, f3: u32, rd: R, opc: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "immediate {imm} out of range");
    ((imm as u32 & 0xFFF) << 20) | (rs1.n() << 15) | (f3 << 12) | (rd.n() << 7) | opc
}

fn b_type(off: i32, rs1: R, rs2: R, f3: u32) -> u32 {
    assert!(
        off % 2 == 0 && (-4096..4096).contains(&off),
        "branch offset {off}"
    );
    let o = off as u32;
    (((o >> 12) & 1) << 31)
        | (((o >> 5) & 0x3F) << 25)
        | (rs2.n() << 20)
        | (rs1.n() << 15)
        | (f3 << 12)
        | (((o >> 1) & 0xF) << 8)
        | (((o >> 11) & 1) << 7)
        | 0x63
}

/// Assembles `prog` at address 0: `(word, disassembly)` per instruction.
pub fn assemble(prog: &[Op]) -> Vec<(u32, String)> {
    let mut labels = std::collections::HashMap::new();
    let mut pc = 0i32;
    for op in prog {
        match op {
            Op::Label(l) => {
                labels.insert(*l, pc);
            }
            _ => pc += 4,
        }
    }
    let mut out = Vec::new();
    let mut pc = 0i32;
    for op in prog {
        let target = |l: &str| {
            labels
                .get(l)
                .copied()
                .unwrap_or_else(|| panic!("label {l}"))
                - pc
        };
        let (word, text) = match *op {
            Op::Label(_) => continue,
            Op::Lui(rd, imm) => (
                (imm << 12) | (rd.n() << 7) | 0x37,
                format!("lui {}, {:#x}", rd.name(), imm),
            ),
            Op::Addi(rd, rs, imm) => (
                i_type(imm, rs, 0, rd, 0x13),
                format!("addi {}, {}, {imm}", rd.name(), rs.name()),
            ),
            Op::Add(rd, a, b) => (
                (b.n() << 20) | (a.n() << 15) | (rd.n() << 7) | 0x33,
                format!("add {}, {}, {}", rd.name(), a.name(), b.name()),
            ),
            Op::Lw(rd, rs, imm) => (
                i_type(imm, rs, 2, rd, 0x03),
                format!("lw {}, {imm}({})", rd.name(), rs.name()),
            ),
            Op::Sw(src, base, imm) => {
                let i = imm as u32 & 0xFFF;
                (
                    ((i >> 5) << 25)
                        | (src.n() << 20)
                        | (base.n() << 15)
                        | (2 << 12)
                        | ((i & 0x1F) << 7)
                        | 0x23,
                    format!("sw {}, {imm}({})", src.name(), base.name()),
                )
            }
            Op::Bne(a, b, l) => (
                b_type(target(l), a, b, 1),
                format!("bne {}, {}, {l}", a.name(), b.name()),
            ),
            Op::Bltu(a, b, l) => (
                b_type(target(l), a, b, 6),
                format!("bltu {}, {}, {l}", a.name(), b.name()),
            ),
            Op::Bgeu(a, b, l) => (
                b_type(target(l), a, b, 7),
                format!("bgeu {}, {}, {l}", a.name(), b.name()),
            ),
            Op::Jal(rd, l) => {
                let o = target(l) as u32;
                (
                    (((o >> 20) & 1) << 31)
                        | (((o >> 1) & 0x3FF) << 21)
                        | (((o >> 11) & 1) << 20)
                        | (((o >> 12) & 0xFF) << 12)
                        | (rd.n() << 7)
                        | 0x6F,
                    format!("jal {}, {l}", rd.name()),
                )
            }
            Op::Jalr(rd, rs, imm) => (
                i_type(imm, rs, 0, rd, 0x67),
                format!("jalr {}, {imm}({})", rd.name(), rs.name()),
            ),
        };
        out.push((word, text));
        pc += 4;
    }
    out
}

/// Renders the ROM as a SystemVerilog module with a registered read (one cycle, as the SoC bus
/// answers anyway), so that yosys maps it to one EBR instead of ~80 LUTs.
pub fn render_sv(map: &RegMap) -> String {
    let words = assemble(&program(map));
    let rom = map
        .region
        .iter()
        .find(|r| r.name == "ROM")
        .expect("region ROM");
    let n = (rom.size / 4) as usize;
    assert!(
        words.len() <= n,
        "boot program ({} words) larger than ROM ({n} words)",
        words.len()
    );
    let aw = n.trailing_zeros().max(1);
    let mut s = header("//");
    s.push_str(
        "// SoC boot ROM (see xtask/src/bootrom.rs): copies the firmware image from FLASH_FW to FW in RAM\n\
         // and jumps to it; without a valid image (magic CNFW, length <= FW_LEN) it writes\n",
    );
    let _ = writeln!(s, "// {BOOT_FAIL:#x} to SYS.EXIT and halts. Read-only; the read is registered (an EBR on the iCE40).");
    s.push_str(
        "`default_nettype none\n\nmodule soc_boot_rom (\n  input  wire logic        clk_i,\n",
    );
    let _ = writeln!(
        s,
        "  input  wire logic [{}:0] addr_i,  // word index",
        aw - 1
    );
    s.push_str(
        "  output logic      [31:0] data_q   // the word at the previous cycle's addr_i\n);\n",
    );
    let _ = writeln!(
        s,
        "  (* ram_style = \"block\" *) logic [31:0] mem_q [{n}];  // yosys: an EBR, not LUTs\n  initial begin"
    );
    for (i, (w, t)) in words.iter().enumerate() {
        let _ = writeln!(s, "    mem_q[{i}] = 32'h{w:08x};  // {:#06x}: {t}", i * 4);
    }
    let _ = writeln!(
        s,
        "    for (int i = {}; i < {n}; i++) begin\n      mem_q[i] = 32'h00000000;\n    end\n  end",
        words.len()
    );
    s.push_str("  always_ff @(posedge clk_i) begin\n    data_q <= mem_q[addr_i];\n  end\nendmodule\n\n`default_nettype wire\n");
    s
}
