//! `cargo bench -p sim --bench soc`: the paper-CNN-shaped model (random weights, `sim::paper`)
//! through the firmware on the Verilated SoC, once with the engines and once in software only
//! (same ELF, flash header flag). Prints per-layer cycles, the speed-up, images/s at the board clock (BOARD_CLOCK_HZ) and
//! the simulation speed, on the board configuration (docs/fpga.md; docs/performance.md's "SoC"
//! table is the wide reference: `cnnfpga bench soc --board wide`). `SOC_BENCH_BLOB=path` runs a quantised model blob instead (on a
//! random image of its input shape). The same as `cnnfpga bench soc` (both are `sim::bench`).

use sim::bench::{self, Config};
use sim::soc::Firmware;

fn main() {
    let cfg = match std::env::var("SOC_BENCH_BLOB") {
        Ok(p) => Config::for_blob(std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
            .unwrap_or_else(|e| panic!("{p}: {e}")),
        Err(_) => Config::paper(),
    };
    let fw = Firmware::build(&Firmware::default_target_dir()).unwrap_or_else(|e| panic!("{e}"));
    let b = bench::run(&cfg, &fw, &mut |mode, cycles| {
        if cycles % (64 << 20) == 0 {
            eprintln!("{mode}: {:.0} M cycles", cycles as f64 / 1e6);
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    print!("{}", b.markdown());
}
