//! The generated files are up to date with rtl/regmap/accel.toml (`cargo xtask codegen
//! --check` semantics: a failure names the stale file and the command that fixes it), the
//! generator rejects inconsistent maps, and the boot-ROM assembler encodes as the ISA says.

use std::process::Command;

use xtask::bootrom::{assemble, Op, R};
use xtask::codegen::{self, load, render_all, workspace_root};
use xtask::regmap::RegMap;

#[test]
fn generated_files_are_up_to_date() {
    let stale = codegen::stale(&workspace_root()).unwrap();
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `cargo xtask codegen`"
    );
}

#[test]
fn check_mode_of_the_binary_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["codegen", "--check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--check` has teeth: on a copy of the tree with one output edited it exits 1 and names that
/// file and the command; `codegen` then repairs it and `--check` passes again.
#[test]
fn check_mode_names_a_stale_file_and_the_fix() {
    let root = workspace_root();
    let tmp = std::env::temp_dir().join(format!("cnnfpga-xtask-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let map = load(&root).unwrap();
    for (p, text) in render_all(&map) {
        let to = tmp.join(p);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, text).unwrap();
    }
    let src = tmp.join(xtask::header::SOURCE);
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::copy(root.join(xtask::header::SOURCE), &src).unwrap();
    assert!(codegen::stale(&tmp).unwrap().is_empty());
    let edited = tmp.join(xtask::regmap::OUT_RS);
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("// hand edit\n");
    std::fs::write(&edited, text).unwrap();
    assert_eq!(codegen::stale(&tmp).unwrap(), [xtask::regmap::OUT_RS]);
    // the binary (pointed at the copy) fails naming the file and the command that fixes it
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["codegen", "--check"])
        .env("CNNFPGA_ROOT", &tmp)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "stale: firmware/src/regs.rs (run `cargo xtask codegen`)"
    );
    assert_eq!(codegen::write(&tmp).unwrap(), [xtask::regmap::OUT_RS]);
    assert!(codegen::stale(&tmp).unwrap().is_empty());
    std::fs::remove_dir_all(&tmp).unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["codegen", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown flag is a usage error"
    );
}

/// Encodings from the RISC-V unprivileged ISA (RV32I base formats), assembled by hand:
/// `addi a0, zero, 1` = 0x00100513, `lui a0, 0x1000` = 0x01000537, `lw t0, 0(a0)` = 0x00052283,
/// `sw t0, 0(a1)` = 0x0055a023, `bne t0, t1, +8` = 0x00629463, `jal zero, 0` = 0x0000006f.
#[test]
fn boot_rom_assembler_matches_the_isa_encodings() {
    let prog = [
        Op::Addi(R::A0, R::Zero, 1),
        Op::Lui(R::A0, 0x1000),
        Op::Lw(R::T0, R::A0, 0),
        Op::Sw(R::T0, R::A1, 0),
        Op::Bne(R::T0, R::T1, "skip"),
        Op::Addi(R::A0, R::Zero, 1),
        Op::Label("skip"),
        Op::Label("halt"),
        Op::Jal(R::Zero, "halt"),
    ];
    let words: Vec<u32> = assemble(&prog).into_iter().map(|(w, _)| w).collect();
    assert_eq!(
        words,
        [
            0x0010_0513,
            0x0100_0537,
            0x0005_2283,
            0x0055_a023,
            0x0062_9463,
            0x0010_0513,
            0x0000_006f
        ]
    );
}

#[test]
fn every_output_carries_the_generated_header() {
    let map = load(&workspace_root()).unwrap();
    for (path, text) in render_all(&map) {
        let first = text.lines().next().unwrap();
        assert!(
            first.contains("Generated from rtl/regmap/accel.toml") && first.contains("do not edit"),
            "{path}: {first}"
        );
    }
}

#[test]
fn the_rust_constants_match_the_source() {
    let map = load(&workspace_root()).unwrap();
    let conv = map.block("CONV").unwrap();
    assert_eq!(u64::from(firmware::regs::conv::BASE), conv.base);
    let off = |n: &str| conv.reg.iter().find(|r| r.name == n).unwrap().offset;
    assert_eq!(u64::from(firmware::regs::conv::CTRL), off("CTRL"));
    assert_eq!(u64::from(firmware::regs::conv::KKC), off("KKC"));
    assert_eq!(firmware::regs::LANES as u64, map.param("LANES").unwrap());
}

const GOOD: &str = r#"
[[region]]
name = "MMIO"
base = 0xF000_0000
size = 0x1000
doc = "io"
[[block]]
name = "B"
base = 0xF000_0000
size = 0x100
doc = "b"
[[block.reg]]
name = "A"
offset = 0
access = "rw"
doc = "a"
fields = [{ name = "X", lsb = 0, width = 4, access = "rw", doc = "x" }]
"#;

#[test]
fn validation_accepts_a_good_map_and_rejects_broken_ones() {
    assert!(RegMap::parse(GOOD).is_ok());
    let broken = [
        GOOD.replace("offset = 0", "offset = 2"),     // unaligned
        GOOD.replace("offset = 0", "offset = 0x100"), // outside the block
        GOOD.replace("width = 4", "width = 40"),      // field outside the register
        GOOD.replace(
            "name = \"B\"\nbase = 0xF000_0000",
            "name = \"B\"\nbase = 0xE000_0000",
        ), // in no region
        GOOD.replace("access = \"rw\"\ndoc", "access = \"x\"\ndoc"), // bad access
        format!("{GOOD}[[block.reg]]\nname = \"C\"\noffset = 0\naccess = \"r\"\ndoc = \"c\"\n"), // offset reused
        GOOD.replace("name = \"A\"", "name = \"a\""), // not ALL_CAPS
    ];
    for (i, b) in broken.iter().enumerate() {
        assert!(
            RegMap::parse(b).is_err(),
            "broken map {i} was accepted:\n{b}"
        );
    }
}

/// The board's derived parameters agree with what they are derived from (accel.toml states
/// them as numbers because the generator takes no expressions): the PLL settings make
/// BOARD_CLOCK_HZ from OSC_HZ, the UART divider is that clock over UART_BAUD rounded, and
/// the PLL output lies in SB_PLL40's 16-275 MHz range.
#[test]
fn board_clock_pll_and_uart_divider_are_consistent() {
    use firmware::regs::*;
    let f = OSC_HZ * (BOARD_PLL_DIVF + 1) / ((BOARD_PLL_DIVR + 1) << BOARD_PLL_DIVQ);
    assert_eq!(f, BOARD_CLOCK_HZ, "PLL settings vs BOARD_CLOCK_HZ");
    assert!((16_000_000..=275_000_000).contains(&f));
    assert_eq!(
        BOARD_UART_DIV,
        (BOARD_CLOCK_HZ + UART_BAUD / 2) / UART_BAUD,
        "BOARD_UART_DIV is round(BOARD_CLOCK_HZ / UART_BAUD)"
    );
}

/// The hardware-shared values that accel.toml states as numbers agree with what they are
/// derived from: the engines' pointers (ENGINE_ADDR_BITS) reach the end of RAM and no further
/// than needed, and the conv parameter record's fields tile CONV_PARAM_BYTES (a power of two,
/// as conv_agen's `{channel, PrmLg zeros}` addressing needs).
#[test]
fn pointer_width_and_parameter_record_are_consistent() {
    use firmware::regs::*;
    let ram_end = u64::from(RAM_BASE) + u64::from(RAM_SIZE);
    assert!(
        ram_end <= 1 << ENGINE_ADDR_BITS,
        "RAM ends above the pointers"
    );
    assert!(
        ram_end > 1 << (ENGINE_ADDR_BITS - 1),
        "ENGINE_ADDR_BITS wider than needed"
    );
    assert!(CONV_PARAM_BYTES.is_power_of_two());
    let mut covered = vec![0u8; CONV_PARAM_BYTES];
    for (off, len) in [
        (CONV_PARAM_BIAS_OFFSET, 4),
        (CONV_PARAM_MULT_OFFSET, 2),
        (CONV_PARAM_SHIFT_OFFSET, 1),
    ] {
        for c in &mut covered[off..off + len] {
            *c += 1;
        }
    }
    assert!(
        covered.iter().all(|&c| c <= 1),
        "fields overlap: {covered:?}"
    );
    // and the firmware's packer puts each field where the map says
    let mut out = [0xAAu8; firmware::regs::CONV_PARAM_BYTES];
    let n = firmware::accel::pack_conv_params(
        &(-2i32).to_le_bytes(),
        &0x1234u16.to_le_bytes(),
        &[7],
        &mut out,
    )
    .unwrap();
    assert_eq!(n, CONV_PARAM_BYTES);
    let o = CONV_PARAM_BIAS_OFFSET;
    assert_eq!(out[o..o + 4], (-2i32).to_le_bytes());
    let o = CONV_PARAM_MULT_OFFSET;
    assert_eq!(out[o..o + 2], 0x1234u16.to_le_bytes());
    assert_eq!(out[CONV_PARAM_SHIFT_OFFSET], 7);
}
