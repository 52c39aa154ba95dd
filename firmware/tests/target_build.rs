//! Builds the soft-core binary for `riscv32i-unknown-none-elf` at the shipped profile
//! (`firmware`: opt-level s + LTO) and checks it: it fits the `FW` area, starts with `_start`,
//! and has no M-extension instruction (`mul`, `mulh`, `mulhsu`, `mulhu`, `div`, `divu`, `rem`,
//! `remu`): the board's PicoRV32 has neither multiplier nor divider (`BOARD_CPU_MUL` = 0,
//! no `ENABLE_DIV`; rtl/soc/soc_core.sv), and without its illegal-instruction trap
//! (`BOARD_CPU_CATCH` = 0) such an instruction would run on with an undefined result.
//! The products are calls of `__mulsi3` and `__muldi3`, which must be the firmware's own
//! (`firmware::softmul`, global symbols) and not compiler_builtins' (hidden), and the
//! code must still call `__muldi3`: the requantisation's 64-bit product, which the RV32IM
//! miscompile described in docs/numerics.md deleted. The bit-exact answer to that hazard is
//! the boot self-test in `src/bin/soc.rs` plus the SoC differential test (Verilated PicoRV32
//! vs host), which this test does not replace.
//!
//! Skips (with a message) when the target's std is not installed, except with `CI=true`,
//! where a missing target is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "riscv32i-unknown-none-elf";

fn target_installed() -> bool {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let root = String::from_utf8_lossy(&o.stdout).trim().to_string();
            Path::new(&root).join("lib/rustlib").join(TARGET).exists()
        }
        _ => false,
    }
}

fn tool(name: &str) -> Option<String> {
    let full = format!("riscv64-unknown-elf-{name}");
    Command::new(&full)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| full)
}

#[test]
fn soc_binary_builds_for_the_target() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !target_installed() {
        assert!(
            !ci,
            "CI=true but the {TARGET} target is not installed (rustup target add {TARGET})"
        );
        eprintln!("skipping: {TARGET} not installed");
        return;
    }
    // a separate target dir: the outer `cargo test` holds the lock on the main one
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soc-build");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "firmware",
            "--profile",
            "firmware",
            "--target",
            TARGET,
            "--features",
            "soc",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_BUILD_JOBS", "2")
        .status()
        .expect("run cargo");
    assert!(status.success(), "firmware build for {TARGET} failed");
    let elf = target_dir.join(TARGET).join("firmware").join("soc");
    assert!(elf.exists(), "{} missing", elf.display());

    let (Some(size), Some(objdump)) = (tool("size"), tool("objdump")) else {
        assert!(
            !ci,
            "CI=true but binutils-riscv64-unknown-elf is not installed"
        );
        eprintln!("binutils-riscv64-unknown-elf missing: size/disassembly checks skipped");
        return;
    };
    let out = Command::new(size).arg(&elf).output().expect("size");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    let row: Vec<u64> = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .take(3)
        .map(|v| v.parse().unwrap())
        .collect();
    let (code, data, bss) = (row[0], row[1], row[2]);
    assert!(
        code + data + bss <= u64::from(firmware::memmap::FW_LEN),
        "FW area overflow: {code} + {data} + {bss}"
    );

    let dis = Command::new(objdump)
        .args(["-d", "-C", "--no-show-raw-insn"])
        .arg(&elf)
        .output()
        .expect("objdump");
    let dis = String::from_utf8_lossy(&dis.stdout);
    assert!(dis.contains("<_start>:\n"), "no _start symbol");
    // the boot ROM jumps to FW_ADDR: _start's `la sp` must be the first instruction there
    let entry = format!("{:x}:", firmware::memmap::FW_ADDR);
    let first = dis
        .lines()
        .find(|l| l.trim_start().starts_with(&entry))
        .unwrap_or("");
    assert!(
        first.contains("auipc") || first.contains("lui"),
        "FW_ADDR does not hold _start's la sp: {first}"
    );
    let m_ext = m_instructions(&dis);
    assert!(
        m_ext.is_empty(),
        "the firmware must not multiply or divide in hardware (the board's PicoRV32 has no \
         MUL or DIV): {} M-extension instruction(s):\n{}",
        m_ext.len(),
        m_ext.join("\n")
    );
    // Products are calls. i64 ones (the requantisation of dense rows, `scale`) call __muldi3:
    // if LLVM deleted the requantisation multiply, no call of it would remain outside the
    // multiply routines themselves.
    let calls = |f: &str| {
        dis.lines()
            .filter(|l| l.ends_with(&format!("<{f}>")))
            .count()
    };
    let (mulsi3, muldi3) = (calls("__mulsi3"), calls("__muldi3"));
    eprintln!("calls of __mulsi3: {mulsi3}, of __muldi3: {muldi3}");
    assert!(
        mulsi3 > 0 && muldi3 > 0,
        "no 32-bit or 64-bit multiply in the binary: requantisation was miscompiled away"
    );
    let nm = Command::new(tool("nm").expect("binutils present"))
        .arg(&elf)
        .output()
        .expect("nm");
    let nm = String::from_utf8_lossy(&nm.stdout);
    for f in ["__mulsi3", "__muldi3"] {
        assert!(
            nm.lines().any(|l| l.ends_with(&format!(" T {f}"))),
            "{f} is not the firmware's global one (firmware::softmul) but compiler_builtins' \
             (up to ~3,000 cycles per i8 x u8 product on this CPU):\n{nm}"
        );
    }
}

/// The M-extension lines (`mul*`, `div*`, `rem*`) of an `objdump -d` listing, each prefixed
/// with the function it is in.
fn m_instructions(dis: &str) -> Vec<String> {
    let mut func = "";
    let mut found = Vec::new();
    for line in dis.lines() {
        if line.ends_with(">:") {
            func = line;
            continue;
        }
        // "   2297e:\tdivu\ta2,a3,a2" (with --no-show-raw-insn): the mnemonic follows the address
        let mnemonic = line
            .split_once(':')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("");
        if matches!(
            mnemonic,
            "mul" | "mulh" | "mulhsu" | "mulhu" | "div" | "divu" | "rem" | "remu"
        ) {
            found.push(format!("{func} {}", line.trim()));
        }
    }
    found
}

#[test]
fn m_finder_sees_all_eight() {
    let dis = "00020000 <_start>:\n   20000:\tauipc\tsp,0x20\n00020010 <f>:\n   20010:\tdivu\ta2,a3,a2\n   20014:\trem\ta0,a0,a1\n   20018:\tdiv\ta0,a0,a1\n   2001c:\tremu\ta0,a0,a1\n   20020:\tmulhu\ta0,a0,a1\n   20024:\tmul\ta0,a0,a1\n   20028:\tmulh\ta0,a0,a1\n   2002c:\tmulhsu\ta0,a0,a1\n";
    let d = m_instructions(dis);
    assert_eq!(d.len(), 8, "{d:?}");
    assert!(d[0].starts_with("00020010 <f>: 20010:"), "{d:?}");
    assert!(m_instructions(
        "   20020:\tjal\tra,20100 <__mulsi3>\n   20024:\taddi\ta0,a0,1 # divu\n   20028:\tsll\ta0,a0,0x1 <mul>\n"
    )
    .is_empty());
}
