//! The `cnnfpga` binary: parses the command line and reports any error on one line
//! (`error: <what failed>: <why>`), with a non-zero exit status. No backtrace is printed for
//! user errors, even when `RUST_BACKTRACE` is set.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match host::cli::run(host::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error chain on one line, leaving out causes whose text the message before them already
/// contains (many error types print their source in their own message).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
