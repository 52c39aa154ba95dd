//! `cargo xtask codegen` writes the files generated from `rtl/regmap/accel.toml`
//! (`rtl/gen/accel_pkg.sv`, `rtl/gen/soc_boot_rom.sv`, `firmware/src/regs.rs`,
//! `docs/registers.md`); `cargo xtask codegen --check` writes nothing and exits 1 naming each
//! stale file. `$CNNFPGA_ROOT` points it at another checkout (the tests use a copy).

use std::process::ExitCode;

use xtask::codegen;
use xtask::header::TOOL;

const USAGE: &str = "usage: cargo xtask codegen [--check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["codegen"] => false,
        ["codegen", "--check"] => true,
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("xtask: unknown arguments {args:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = std::env::var_os("CNNFPGA_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(codegen::workspace_root);
    let result = if check {
        codegen::stale(&root)
    } else {
        codegen::write(&root)
    };
    match result {
        Ok(paths) if check && !paths.is_empty() => {
            for p in &paths {
                eprintln!("stale: {p} (run `{TOOL}`)");
            }
            ExitCode::FAILURE
        }
        Ok(paths) => {
            for p in &paths {
                println!("wrote {p}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask codegen: {e}");
            ExitCode::FAILURE
        }
    }
}
