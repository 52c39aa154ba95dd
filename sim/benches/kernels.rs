//! `cargo bench -p sim --bench kernels`: the firmware's software kernels on the Verilated SoC,
//! PicoRV32 with the fast multiplier (`ENABLE_FAST_MUL`, model `soc_fastmul`) and with the
//! iterative one (`ENABLE_MUL`, the shipped `soc`). The paper-CNN-shaped model
//! (`sim::paper::paper_cnn(7, 64, 64, 10)`, image `sim::paper::image(100, 64, 64, 3)`) runs
//! software-only (flash header flag); per layer it prints cycles, MACs (P layer: shift-adds),
//! cycles/MAC and instructions/MAC as the Markdown table of docs/performance.md ("Firmware
//! kernels on PicoRV32"). Class and logits must equal the host's.
//!
//! Environment: `KERNELS_BENCH_HW=24` runs a 24x24 input instead of 64x64 (a quick check while
//! working on the kernels; conv cycles/MAC stay close); `KERNELS_BENCH_MUL=fast` or `iter`
//! runs only one multiplier.

use sim::paper::{image, paper_cnn, reference};
use sim::soc::{self, Firmware, Flash, RunOptions, Transcript};

fn main() {
    let hw: usize = std::env::var("KERNELS_BENCH_HW")
        .ok()
        .map(|v| v.parse().expect("KERNELS_BENCH_HW: a side length"))
        .unwrap_or(64);
    let muls: Vec<bool> = match std::env::var("KERNELS_BENCH_MUL").as_deref() {
        Ok("fast") => vec![true],
        Ok("iter") => vec![false],
        Ok("both") | Err(_) => vec![true, false],
        Ok(v) => panic!("KERNELS_BENCH_MUL={v}: fast, iter or both"),
    };
    let blob = paper_cnn(7, hw, hw, 10);
    let img = image(100, hw, hw, 3);
    let fw = Firmware::build(&Firmware::default_target_dir()).unwrap_or_else(|e| panic!("{e}"));
    let (class, logits) = reference(&blob, &img).unwrap();
    let mut runs: Vec<(bool, Transcript, soc::SocRun)> = Vec::new();
    for &fast_mul in &muls {
        let flash = Flash::new(&fw, true, &blob, &img).unwrap();
        let opts = RunOptions {
            fast_mul,
            ..RunOptions::default()
        };
        let run = soc::run(&flash, &opts).unwrap();
        let t = run.transcript().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.class, &t.logits),
            (class, &logits),
            "SoC (fast_mul {fast_mul}) differs from the host"
        );
        assert!(t.layers.iter().all(|l| l.engine == "sw"));
        runs.push((fast_mul, t, run));
    }
    println!(
        "firmware: {} bytes (opt-level {}), input {hw}x{hw}x3, software only",
        fw.image.len(),
        fw.opt_level
    );
    println!();
    let name = |f: bool| if f { "fast mul" } else { "iterative mul" };
    let mut head = String::from("| layer | kind | MACs |");
    let mut rule = String::from("| --- | --- | ---: |");
    for (f, _, _) in &runs {
        let n = name(*f);
        head.push_str(&format!(" cycles ({n}) | cycles/MAC ({n}) | instr/MAC ({n}) |"));
        rule.push_str(" ---: | ---: | ---: |");
    }
    println!("{head}\n{rule}");
    let first = &runs[0].1;
    for (i, l) in first.layers.iter().enumerate() {
        let mut row = format!(
            "| {} | {} {}x{}x{} | {} |",
            l.index, l.kind, l.out.0, l.out.1, l.out.2, l.macs
        );
        for (_, t, _) in &runs {
            let l = &t.layers[i];
            let macs = l.macs.max(1) as f64;
            row.push_str(&format!(
                " {} | {:.1} | {:.2} |",
                l.cycles,
                l.cycles as f64 / macs,
                l.instret as f64 / macs
            ));
        }
        println!("{row}");
    }
    let macs: u64 = first.layers.iter().map(|l| l.macs).sum();
    let mut row = format!("| all | | {macs} |");
    for (_, t, _) in &runs {
        row.push_str(&format!(
            " **{}** | {:.1} | {:.2} |",
            t.layers_cycles,
            t.layers_cycles as f64 / macs as f64,
            t.layers_instret as f64 / macs as f64
        ));
    }
    println!("{row}");
    println!();
    for (f, t, run) in &runs {
        println!(
            "{}: {} cycles/image = {:.2} s at 12 MHz; simulation {} cycles in {:.1} s = {:.2} M cycles/s",
            name(*f),
            t.layers_cycles,
            t.layers_cycles as f64 / 12e6,
            run.cycles,
            run.seconds,
            run.cycles_per_second() / 1e6
        );
    }
}
