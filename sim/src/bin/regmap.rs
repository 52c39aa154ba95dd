//! Writes the generated register-map files from `rtl/regmap/accel.toml`.
//!
//! `cargo run -p sim --bin regmap` rewrites them; `-- --check` exits 1 when any is stale.

use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().skip(1).any(|a| a == "--check");
    let root = sim::regmap::workspace_root();
    let result = if check {
        sim::regmap::stale(&root)
    } else {
        sim::regmap::write(&root)
    };
    match result {
        Ok(paths) if check && !paths.is_empty() => {
            for p in &paths {
                eprintln!("stale: {p} (run `cargo run -p sim --bin regmap`)");
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
            eprintln!("regmap: {e}");
            ExitCode::FAILURE
        }
    }
}
