//! Builds the Verilator models listed in `MODELS` and generates their Rust wrappers
//! (`$OUT_DIR/models.rs`, included by `sim::vl`). To add a top (e.g. the SoC), add one entry.
//!
//! Without `verilator` on PATH (or in `$VERILATOR`): under `CI=true` the build fails; otherwise
//! the crate builds without models and every RTL test fails with a message naming
//! `scripts/setup.sh`.

#[path = "build_support/vlgen.rs"]
mod vlgen;
// The register map's values (BOARD_*, ENGINE_ADDR_BITS) as the generated Rust constants: the
// file `cargo xtask codegen` writes from rtl/regmap/accel.toml, included as firmware/build.rs
// does (a build script cannot use the firmware crate it would build).
#[allow(dead_code)]
#[path = "../firmware/src/regs.rs"]
mod regs;

use vlgen::{Model, Trace};

const MODELS: &[Model] = &[
    // The conv engine with the default (accel_pkg) parameters: the shipped configuration.
    Model {
        name: "conv_engine",
        top: "conv_engine",
        filelist: "rtl/accel.f",
        args: &[],
        clock: "clk_i",
        rust_type: "ConvEngineModel",
        trace: Trace::Always,
    },
    // A wider, shallower variant: checks that the RTL is generic in its parameters
    // (Lanes that do not divide cout, a 2-entry fetch FIFO, 256-byte weight buffers).
    Model {
        name: "conv_engine_l8",
        top: "conv_engine",
        filelist: "rtl/accel.f",
        args: &["-GLanes=8", "-GFifoDepth=2", "-GWbufDepth=256"],
        clock: "clk_i",
        rust_type: "ConvEngineL8Model",
        trace: Trace::Always,
    },
    // The iCEBreaker build of the engine: accel.toml BOARD_CONV_LANES lanes and a
    // BOARD_FETCH_FIFO_DEPTH fetch FIFO (the UP5K fit). `main` replaces these placeholder args
    // with the values of accel.toml (sim/tests/robustness.rs checks the lanes through HWCFG).
    Model {
        name: "conv_engine_board",
        top: "conv_engine",
        filelist: "rtl/accel.f",
        args: &[], // BOARD_CONV_LANES, BOARD_FETCH_FIFO_DEPTH: set in main from regs.rs
        clock: "clk_i",
        rust_type: "ConvEngineBoardModel",
        trace: Trace::Always,
    },
    // The P-layer engine standalone, with the SoC's pointer width: `main` sets
    // `-GAddrW=` accel.toml ENGINE_ADDR_BITS (placeholder: none).
    Model {
        name: "pengine",
        top: "pengine",
        filelist: "rtl/pengine.f",
        args: &[],
        clock: "clk_i",
        rust_type: "PengineModel",
        trace: Trace::Always,
    },
    // The iCEBreaker SoC as `cnnfpga fpga build` synthesises it (rtl/soc/sim/soc_sim_top.sv
    // around rtl/board/icebreaker/icebreaker_soc.sv, every parameter from accel_pkg BOARD_*,
    // UART divider included), with the flash model and the harness's clock, reset and RX pin
    // instead of the board's vendor primitives. Twin: a build without tracing code for speed
    // (7-17 % faster) plus a traced one for `RunOptions::trace`.
    Model {
        name: "soc",
        top: "soc_sim_top",
        filelist: "rtl/soc.f",
        args: &["-DSIM", "--timescale", "1ns/1ps"],
        clock: "clk_i",
        rust_type: "SocModel",
        trace: Trace::Twin,
    },
    // The same SoC with PicoRV32 and its single-cycle-issue multiplier (ENABLE_FAST_MUL, DSPs
    // on the board; the board's own CPU has none): `SocConfig::IcebreakerFastMul` (kernel
    // benchmarks, with the riscv32im firmware).
    Model {
        name: "soc_fastmul",
        top: "soc_sim_top",
        filelist: "rtl/soc.f",
        args: &[
            "-DSIM",
            "--timescale",
            "1ns/1ps",
            "-GCpu=0",
            "-GFastMul=1'b1",
        ],
        clock: "clk_i",
        rust_type: "SocFastMulModel",
        trace: Trace::Twin,
    },
    // The PicoRV32 reference SoC (`SocConfig::Wide`): PicoRV32 (the board's BOARD_CPU_* shape)
    // and the board's UART with the accel_pkg default engines (LANES lanes, FETCH_FIFO_DEPTH,
    // the P engine), which do not fit the UP5K next to PicoRV32 (docs/fpga.md). One traced
    // build (it is the rarely used one).
    Model {
        name: "soc_wide",
        top: "soc_sim_top",
        filelist: "rtl/soc.f",
        args: &["-DSIM", "--timescale", "1ns/1ps", "-GCpu=0", "-GWide=1'b1"],
        clock: "clk_i",
        rust_type: "SocWideModel",
        trace: Trace::Always,
    },
];

const SETUP_HINT: &str =
    "Verilator not found: run scripts/setup.sh (installs verilator, g++, make, zlib1g-dev)";

fn main() {
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build_support/vlgen.rs");
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=CI");
    for v in filelist::Vendor::ALL {
        println!("cargo:rerun-if-env-changed={}", v.env_var());
    }
    println!("cargo:rustc-check-cfg=cfg(sim_no_verilator)");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("firmware/src/regs.rs").display()
    );
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let board_args: &'static [&'static str] = Box::leak(Box::new([
        leak(format!("-GLanes={}", regs::BOARD_CONV_LANES)),
        leak(format!("-GFifoDepth={}", regs::BOARD_FETCH_FIFO_DEPTH)),
    ]));
    let pengine_args: &'static [&'static str] = Box::leak(Box::new([leak(format!(
        "-GAddrW={}",
        regs::ENGINE_ADDR_BITS
    ))]));
    let models: Vec<Model> = MODELS
        .iter()
        .map(|m| Model {
            args: match m.name {
                "conv_engine_board" => board_args,
                "pengine" => pengine_args,
                _ => m.args,
            },
            ..*m
        })
        .collect();
    let models = &models[..];
    for m in models {
        let listing = vlgen::read_filelist(&root, m.filelist);
        for l in &listing.lists {
            println!("cargo:rerun-if-changed={}", root.join(l).display());
        }
        // the CPUs' files are tracked when they are found (their absence stops the build below,
        // once Verilator is known to be there)
        let files = listing
            .files(&root, |v| filelist::vendor_dir(&root, v))
            .unwrap_or_else(|_| {
                let local = listing.entries.iter();
                local
                    .filter(|e| filelist::Vendor::split(e).is_none())
                    .map(|e| root.join(e))
                    .collect()
            });
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
    }

    let verilator = std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into());
    let Some(version) = vlgen::verilator_version(&verilator) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{SETUP_HINT} (CI=true: refusing to build the sim crate without its RTL models)"
            );
        }
        println!(
            "cargo:warning={SETUP_HINT}; building sim without RTL models (their tests will fail)"
        );
        println!("cargo:rustc-cfg=sim_no_verilator");
        let stub = format!("/// Why no RTL model was built.\npub const MISSING: Option<&str> = Some({SETUP_HINT:?});\n");
        std::fs::write(out_dir.join("models.rs"), stub).unwrap();
        return;
    };

    let jobs = std::env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    let jobs = jobs.parse::<u32>().unwrap_or(2).clamp(1, 2).to_string(); // shared 2-core machines
    let env = vlgen::Env {
        vroot: vlgen::verilator_root(&verilator),
        root,
        out_dir: out_dir.clone(),
        verilator,
        jobs,
    };

    let mut rs = String::from(
        "/// Why no RTL model was built.\npub const MISSING: Option<&str> = None;\n\n",
    );
    let mut runtime = false;
    for m in models {
        let ports = vlgen::build_model(&env, m, false, &[]);
        if m.trace == Trace::Twin {
            let twin_ports = vlgen::build_model(&env, m, true, &[]);
            assert_eq!(
                format!("{ports:?}"),
                format!("{twin_ports:?}"),
                "{}: the traced build has other ports",
                m.name
            );
        }
        if !runtime {
            // from a traced build's makefile (verilated_fst_c.o)
            vlgen::build_runtime(&env, m, m.trace == Trace::Twin, &version);
            runtime = true;
        }
        vlgen::build_shim(&env, m, &ports);
        rs.push_str(&vlgen::rust_wrapper(m, &ports));
        rs.push('\n');
    }
    vlgen::link_runtime(&env);
    std::fs::write(out_dir.join("models.rs"), rs).unwrap();
}
