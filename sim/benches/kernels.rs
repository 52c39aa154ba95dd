//! `cargo bench -p sim --bench kernels`: the firmware's software kernels on the Verilated SoC,
//! PicoRV32 with the fast multiplier (`ENABLE_FAST_MUL`, model `soc_fastmul`, running the
//! firmware built for `riscv32im`: `sim::soc::TARGET_MUL`) and the board's PicoRV32 without a
//! multiplier (`BOARD_CPU_MUL` = 0, the shipped `soc`, the shipped `riscv32i` firmware, whose
//! products are `firmware::softmul` calls). The paper-CNN-shaped model
//! (`sim::paper::paper_cnn(7, 64, 64, 10)`, image `sim::paper::image(100, 64, 64, 3)`) runs
//! software-only (flash header flag); per layer it prints cycles, MACs (P layer: shift-adds),
//! cycles/MAC and instructions/MAC as the Markdown table of docs/performance.md ("Firmware
//! kernels on PicoRV32"). Class and logits must equal the host's.
//!
//! A second, dense-only model (12x12x3 -> dense 432 -> 64 -> dense 64 -> 5, random weights, seed
//! 11) measures the dense kernel on a layer where the fixed per-layer cost does not dominate
//! (the paper model's only NP dense layer has 320 MACs).
//!
//! Environment: `KERNELS_BENCH_HW=24` runs a 24x24 input instead of 64x64 (a quick check while
//! working on the kernels; conv cycles/MAC stay close); `KERNELS_BENCH_MUL=fast` or `none`
//! runs only one CPU.

use firmware::model::{encode, LayerDesc, ModelDesc, Shape};
use firmware::numerics::Requant;
use sim::paper::{image, paper_cnn, reference};
use sim::rng::Rng;
use sim::soc::{self, Firmware, Flash, RunOptions, Transcript};

/// The board's firmware (`riscv32i`) and the one for the fast-multiplier SoC (`riscv32im`).
struct Firmwares {
    board: Firmware,
    mul: Firmware,
}

/// 12x12x3 -> dense 432 -> 64 (requantised) -> dense 64 -> 5 logits, random weights.
fn dense_model(seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut wts = |n: usize| -> Vec<i8> {
        (0..n)
            .map(|_| (r.range(0, 254) as i32 - 127) as i8)
            .collect()
    };
    let (w1, w2) = (wts(432 * 64), wts(64 * 5));
    let desc = ModelDesc {
        input: Shape { h: 12, w: 12, c: 3 },
        class_names: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
        logit_scale: 1.0 / 1024.0,
        layers: vec![
            LayerDesc::Dense {
                n_in: 432,
                n_out: 64,
                weights: w1,
                bias: (0..64).map(|i| i * 100 - 3000).collect(),
                rq: Some(vec![
                    Requant {
                        m: 20_000,
                        shift: 24
                    };
                    64
                ]),
            },
            LayerDesc::Dense {
                n_in: 64,
                n_out: 5,
                weights: w2,
                bias: vec![10, -20, 30, -40, 50],
                rq: None,
            },
        ],
    };
    encode(&desc).expect("valid dense model")
}

/// Runs `blob` on `img` software-only on each CPU (`fw`: the board's firmware and the RV32IM
/// one); checks class and logits against the host.
fn run_all(
    fw: &Firmwares,
    blob: &[u8],
    img: &[u8],
    muls: &[bool],
) -> Vec<(bool, Transcript, soc::SocRun)> {
    let (class, logits) = reference(blob, img).unwrap();
    let mut runs = Vec::new();
    for &fast_mul in muls {
        let flash =
            Flash::new(if fast_mul { &fw.mul } else { &fw.board }, true, blob, img).unwrap();
        let opts = RunOptions {
            config: if fast_mul {
                soc::SocConfig::IcebreakerFastMul
            } else {
                soc::SocConfig::Icebreaker
            },
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
    runs
}

/// The Markdown table of one model's runs.
fn table(runs: &[(bool, Transcript, soc::SocRun)]) {
    let name = |f: bool| if f { "fast mul" } else { "no mul" };
    let mut head = String::from("| layer | kind | MACs |");
    let mut rule = String::from("| --- | --- | ---: |");
    for (f, _, _) in runs {
        let n = name(*f);
        head.push_str(&format!(" cycles ({n}) | cycles/MAC ({n}) |"));
        rule.push_str(" ---: | ---: |");
    }
    println!("{head}\n{rule}");
    let first = &runs[0].1;
    for (i, l) in first.layers.iter().enumerate() {
        let mut row = format!(
            "| {} | {} {}x{}x{} | {} |",
            l.index, l.kind, l.out.0, l.out.1, l.out.2, l.macs
        );
        for (_, t, _) in runs {
            let l = &t.layers[i];
            let macs = l.macs.max(1) as f64;
            row.push_str(&format!(" {} | {:.1} |", l.cycles, l.cycles as f64 / macs));
        }
        println!("{row}");
    }
    let macs: u64 = first.layers.iter().map(|l| l.macs).sum();
    let mut row = format!("| all | | {macs} |");
    for (_, t, _) in runs {
        row.push_str(&format!(
            " **{}** | {:.1} |",
            t.layers_cycles,
            t.layers_cycles as f64 / macs as f64
        ));
    }
    println!("{row}");
    println!();
    for (f, t, run) in runs {
        println!(
            "{}: {} cycles/image = {:.3} s at the board clock {} MHz; simulation {} cycles in {:.1} s = {:.2} M cycles/s",
            name(*f),
            t.layers_cycles,
            t.layers_cycles as f64 / (sim::bench::BOARD_MHZ * 1e6),
            sim::bench::BOARD_MHZ,
            run.cycles,
            run.seconds,
            run.cycles_per_second() / 1e6
        );
    }
}

fn main() {
    let hw: usize = std::env::var("KERNELS_BENCH_HW")
        .ok()
        .map(|v| v.parse().expect("KERNELS_BENCH_HW: a side length"))
        .unwrap_or(64);
    let muls: Vec<bool> = match std::env::var("KERNELS_BENCH_MUL").as_deref() {
        Ok("fast") => vec![true],
        Ok("none") => vec![false],
        Ok("both") | Err(_) => vec![true, false],
        Ok(v) => panic!("KERNELS_BENCH_MUL={v}: fast, none or both"),
    };
    let dir = Firmware::default_target_dir();
    let fw = Firmwares {
        board: Firmware::build(&dir).unwrap_or_else(|e| panic!("{e}")),
        mul: Firmware::build_for(&dir, soc::TARGET_MUL, "s").unwrap_or_else(|e| panic!("{e}")),
    };
    for (t, f) in [(soc::TARGET, &fw.board), (soc::TARGET_MUL, &fw.mul)] {
        println!(
            "firmware {t}: {} bytes (opt-level {}), software only",
            f.image.len(),
            f.opt_level
        );
    }
    println!();
    println!("paper-shaped CNN, input {hw}x{hw}x3:");
    println!();
    let runs = run_all(
        &fw,
        &paper_cnn(7, hw, hw, 10),
        &image(100, hw, hw, 3),
        &muls,
    );
    table(&runs);
    println!();
    println!("dense-only model, input 12x12x3:");
    println!();
    let runs = run_all(&fw, &dense_model(11), &image(101, 12, 12, 3), &muls);
    table(&runs);
}
