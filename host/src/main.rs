use clap::Parser;

fn main() -> anyhow::Result<()> {
    host::cli::run(host::cli::Cli::parse())
}
