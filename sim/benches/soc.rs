//! `cargo bench -p sim --bench soc`: the paper-CNN-shaped model (random weights, `sim::paper`)
//! through the firmware on the Verilated SoC, once with the engines and once in software only
//! (same ELF, flash header flag). Prints per-layer cycles, the speed-up, images/s at 12 MHz and
//! the simulation speed, as the Markdown table of docs/performance.md ("SoC").
//! `SOC_BENCH_BLOB=path` runs a quantised model blob instead (64x64x3 input).

use sim::paper::{image, paper_cnn, reference};
use sim::soc::{self, Firmware, Flash, RunOptions};

fn main() {
    let blob = match std::env::var("SOC_BENCH_BLOB") {
        Ok(p) => std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")),
        Err(_) => paper_cnn(7, 64, 64, 10),
    };
    let img = image(100, 64, 64, 3);
    let fw = Firmware::build(&Firmware::default_target_dir()).unwrap_or_else(|e| panic!("{e}"));
    let (class, logits) = reference(&blob, &img).unwrap();
    let mut res = Vec::new();
    for software in [false, true] {
        let flash = Flash::new(&fw, software, &blob, &img).unwrap();
        let run = soc::run(&flash, &RunOptions::default()).unwrap();
        let t = run.transcript().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.class, &t.logits),
            (class, &logits),
            "SoC differs from the host"
        );
        res.push((t, run));
    }
    let (hw, sw) = (&res[0].0, &res[1].0);
    println!(
        "firmware: {} bytes (opt-level {}), model blob: {} bytes",
        fw.image.len(),
        fw.opt_level,
        blob.len()
    );
    println!();
    println!("| layer | kind | engines: on | cycles | software-only cycles | speed-up |");
    println!("| --- | --- | --- | ---: | ---: | ---: |");
    for (h, s) in hw.layers.iter().zip(&sw.layers) {
        println!(
            "| {} | {} {}x{}x{} | {} | {} | {} | {:.1}x |",
            h.index,
            h.kind,
            h.out.0,
            h.out.1,
            h.out.2,
            h.engine,
            h.cycles,
            s.cycles,
            s.cycles as f64 / h.cycles.max(1) as f64
        );
    }
    let conv = |t: &soc::Transcript| {
        t.layers
            .iter()
            .filter(|l| l.kind == "conv")
            .map(|l| l.cycles)
            .sum::<u64>()
    };
    println!(
        "| all | | | **{}** | **{}** | **{:.1}x** |",
        hw.layers_cycles,
        sw.layers_cycles,
        sw.layers_cycles as f64 / hw.layers_cycles as f64
    );
    println!();
    println!(
        "conv layers speed-up: {:.1}x",
        conv(sw) as f64 / conv(hw) as f64
    );
    for (name, t) in [("engines", hw), ("software", sw)] {
        println!(
            "{name}: {} cycles/image = {:.1} ms at 12 MHz = {:.2} images/s; instret {}",
            t.layers_cycles,
            t.layers_cycles as f64 / 12e3,
            12e6 / t.layers_cycles as f64,
            t.layers_instret
        );
    }
    for (name, (_, run)) in ["engines", "software"].iter().zip(&res) {
        println!(
            "simulation ({name}): {} cycles from reset in {:.1} s = {:.2} M cycles/s",
            run.cycles,
            run.seconds,
            run.cycles_per_second() / 1e6
        );
    }
}
