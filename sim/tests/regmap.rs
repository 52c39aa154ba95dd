//! The generated register-map files are up to date with rtl/regmap/accel.toml, and the
//! generator rejects inconsistent maps.

use sim::regmap::{self, RegMap};

#[test]
fn generated_files_are_up_to_date() {
    let stale = regmap::stale(&regmap::workspace_root()).unwrap();
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `cargo run -p sim --bin regmap`"
    );
}

#[test]
fn check_mode_of_the_binary_passes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regmap"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_output_carries_the_generated_header() {
    let map = regmap::load(&regmap::workspace_root()).unwrap();
    for (path, text) in regmap::render_all(&map) {
        let first = text.lines().next().unwrap();
        assert!(
            first.contains("Generated from rtl/regmap/accel.toml") && first.contains("do not edit"),
            "{path}: {first}"
        );
    }
}

#[test]
fn the_rust_constants_match_the_source() {
    let map = regmap::load(&regmap::workspace_root()).unwrap();
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
