//! `cargo bench -p sim`: the paper CNN's conv layers on the Verilated conv engine.
//! Prints per layer: cycles (busy_o high, START to DONE, counted by the harness), ideal cycles
//! (MACs / lanes), MAC utilisation, and simulation speed; checks every output against
//! numerics::conv2d. Memory timing "soc" = one wait state per 32-bit transfer (the SoC's SPRAM).

use std::time::Instant;

use sim::conv::{BoardModel, DefaultModel, Engine, EnginePorts, L8Model, Stalls};
use sim::layer::ConvLayer;
use sim::rng::Rng;

fn bench<M: EnginePorts>(
    label: &str,
    stalls: Stalls,
    stall_name: &str,
    layers: &[(&str, ConvLayer)],
) {
    let mut e = Engine::<M>::new(1).unwrap_or_else(|err| panic!("{err}"));
    e.stalls = stalls;
    for (name, l) in layers {
        let c0 = e.cycle;
        let t0 = Instant::now();
        let r = e.run(l).unwrap();
        let wall = t0.elapsed().as_secs_f64();
        let sim_cycles = e.cycle - c0;
        assert_eq!(
            r.output,
            l.reference(),
            "{name}: RTL output differs from numerics::conv2d"
        );
        let ideal = l.macs() as f64 / M::LANES as f64;
        println!(
            "| {name} | {label} | {stall_name} | {} | {:.0} | {:.3} | {} / {} | {:.2} |",
            r.cycles,
            ideal,
            ideal / f64::from(r.cycles),
            r.transfers.0,
            r.transfers.1,
            sim_cycles as f64 / wall / 1e6
        );
    }
}

fn main() {
    let mut rng = Rng::new(2024);
    let layers = [
        (
            "conv1 64x64x3 k3 ->10 pool",
            ConvLayer::random(&mut rng, 64, 64, 3, 10, 3, true),
        ),
        (
            "conv2 31x31x10 k5 ->20 pool",
            ConvLayer::random(&mut rng, 31, 31, 10, 20, 5, true),
        ),
    ];
    println!("| layer | engine | memory | cycles | ideal (MACs/lanes) | MAC utilisation | bus reads / writes | sim speed (M cycles/s) |");
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
    bench::<DefaultModel>("5 lanes", Stalls::SOC, "soc (1 wait)", &layers);
    bench::<DefaultModel>("5 lanes", Stalls::ZERO_WAIT, "zero wait", &layers);
    bench::<DefaultModel>("5 lanes", Stalls::RANDOM, "random (30% ready)", &layers);
    bench::<L8Model>("8 lanes", Stalls::SOC, "soc (1 wait)", &layers);
    let board = format!(
        "{} lanes, FIFO {} (board)",
        firmware::regs::BOARD_CONV_LANES,
        firmware::regs::BOARD_FETCH_FIFO_DEPTH
    );
    bench::<BoardModel>(&board, Stalls::SOC, "soc (1 wait)", &layers);
}
