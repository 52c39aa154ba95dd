//! Control-path behaviour of the RTL conv engine: back-to-back starts, START and
//! configuration writes while busy, reset in the middle of a layer, rejected configurations,
//! register read-back, FST tracing.

use firmware::regs::conv;
use sim::conv::{DefaultModel, Engine, Stalls};
use sim::layer::ConvLayer;
use sim::rng::Rng;

fn engine(seed: u64) -> Engine<DefaultModel> {
    Engine::new(seed).unwrap_or_else(|e| panic!("{e}"))
}

fn layer(seed: u64, pool: bool) -> ConvLayer {
    ConvLayer::random(&mut Rng::new(seed), 9, 8, 3, 7, 3, pool)
}

fn output(e: &Engine<DefaultModel>, addr: u32, len: usize) -> Vec<u8> {
    let o = (addr - e.mem_base) as usize;
    e.mem[o..o + len].to_vec()
}

#[test]
fn back_to_back_starts_recompute_the_same_layer() {
    let mut e = engine(11);
    let l = layer(1, true);
    let p = e.place(&l);
    e.start(&l, &p);
    let s1 = e.wait_done(Engine::<DefaultModel>::budget(&l)).unwrap();
    assert_eq!(s1, conv::STATUS_DONE_MASK);
    let first = output(&e, p.output, l.out_len());
    let c1 = e.reg_read(conv::CYCLES);
    // scribble over the output, then START again at once, with the configuration unchanged
    let o = (p.output - e.mem_base) as usize;
    e.mem[o..o + l.out_len()].fill(0xA5);
    e.reg_write(conv::CTRL, conv::CTRL_START_MASK);
    assert_eq!(
        e.reg_read(conv::STATUS) & conv::STATUS_BUSY_MASK,
        conv::STATUS_BUSY_MASK,
        "second START did not start"
    );
    let s2 = e.wait_done(Engine::<DefaultModel>::budget(&l)).unwrap();
    assert_eq!(s2, conv::STATUS_DONE_MASK);
    assert_eq!(first, l.reference());
    assert_eq!(output(&e, p.output, l.out_len()), l.reference());
    let c2 = e.reg_read(conv::CYCLES);
    assert!(
        c1 > 0 && c2.abs_diff(c1) < c1 / 10 + 20,
        "cycle counts {c1} and {c2} of identical runs differ"
    );
}

#[test]
fn start_and_configuration_writes_while_busy_are_ignored() {
    let mut e = engine(12);
    let l = layer(2, false);
    let p = e.place(&l);
    e.start(&l, &p);
    for _ in 0..50 {
        e.step();
    }
    assert_ne!(e.reg_read(conv::STATUS) & conv::STATUS_BUSY_MASK, 0);
    e.reg_write(conv::IH, 3);
    e.reg_write(conv::OUT_ADDR, p.input);
    e.reg_write(conv::CTRL, conv::CTRL_START_MASK);
    let status = e.wait_done(Engine::<DefaultModel>::budget(&l)).unwrap();
    assert_eq!(status, conv::STATUS_DONE_MASK);
    assert_eq!(e.reg_read(conv::IH), l.ih as u32);
    assert_eq!(e.reg_read(conv::OUT_ADDR), p.output);
    assert_eq!(output(&e, p.output, l.out_len()), l.reference());
    assert!(e.bus_errors.is_empty(), "{:?}", e.bus_errors);
}

#[test]
fn reset_in_the_middle_of_a_layer_then_a_correct_run() {
    let mut rng = Rng::new(99);
    for trial in 0..6 {
        let mut e = engine(20 + trial);
        e.stalls = if trial % 2 == 0 {
            Stalls::SOC
        } else {
            Stalls::RANDOM
        };
        let l1 = ConvLayer::random(&mut rng, 12, 11, 4, 9, 5, trial % 3 == 0);
        let p = e.place(&l1);
        e.start(&l1, &p);
        let cut = rng.range(1, 4000);
        for _ in 0..cut {
            e.step();
        }
        e.reset();
        assert_eq!(e.reg_read(conv::STATUS), 0, "STATUS after reset");
        assert_eq!(e.reg_read(conv::IH), 0, "configuration after reset");
        e.bus_errors.clear();
        let l2 = ConvLayer::random(&mut rng, 10, 10, 3, 11, 3, trial % 2 == 0);
        let r = e.run(&l2).unwrap();
        assert_eq!(r.status, conv::STATUS_DONE_MASK);
        assert_eq!(
            r.output,
            l2.reference(),
            "trial {trial}: run after a reset at cycle {cut}"
        );
    }
}

#[test]
fn illegal_configurations_set_err_and_touch_no_memory() {
    let mut e = engine(13);
    let base = layer(3, false);
    let bad: Vec<(&str, ConvLayer)> = vec![
        (
            "k = 0",
            ConvLayer {
                k: 0,
                ..base.clone()
            },
        ),
        (
            "k > KMAX",
            ConvLayer {
                k: firmware::regs::KMAX + 1,
                ih: 9,
                iw: 9,
                ..base.clone()
            },
        ),
        (
            "cin = 0",
            ConvLayer {
                cin: 0,
                ..base.clone()
            },
        ),
        (
            "cout = 0",
            ConvLayer {
                cout: 0,
                ..base.clone()
            },
        ),
        (
            "ih < k",
            ConvLayer {
                ih: 2,
                ..base.clone()
            },
        ),
        (
            "iw > DIM_MAX",
            ConvLayer {
                iw: firmware::regs::DIM_MAX + 1,
                ..base.clone()
            },
        ),
        (
            "k*k*cin > WBUF_DEPTH",
            ConvLayer {
                k: 5,
                cin: firmware::regs::WBUF_DEPTH / 25 + 1,
                ..base.clone()
            },
        ),
    ];
    let p = e.place(&base);
    for (what, l) in bad {
        let before = e.mem.clone();
        e.start(&l, &p);
        let status = e.wait_done(1000).unwrap();
        assert_eq!(
            status,
            conv::STATUS_DONE_MASK | conv::STATUS_ERR_MASK,
            "{what}"
        );
        assert!(
            e.mem == before && e.bus_errors.is_empty(),
            "{what}: memory was accessed"
        );
        // a good layer still runs afterwards and clears ERR
        e.start(&base, &p);
        assert_eq!(
            e.wait_done(Engine::<DefaultModel>::budget(&base)).unwrap(),
            conv::STATUS_DONE_MASK,
            "{what}: next run"
        );
        assert_eq!(output(&e, p.output, base.out_len()), base.reference());
    }
}

#[test]
fn registers_read_back_and_hwcfg_reports_the_build() {
    let mut e = engine(14);
    let vals = [
        (conv::IN_ADDR, 0x0002_1235),
        (conv::W_ADDR, 0x0002_4000),
        (conv::BIAS_ADDR, 0x0002_5004),
        (conv::MULT_ADDR, 0x0002_6002),
        (conv::SHIFT_ADDR, 0x0002_7001),
        (conv::OUT_ADDR, 0x0003_0000),
        (conv::IH, 64),
        (conv::IW, 31),
        (conv::CIN, 10),
        (conv::COUT, 20),
        (conv::K, 5),
        (conv::FLAGS, conv::FLAGS_POOL_MASK),
    ];
    for &(off, v) in &vals {
        e.reg_write(off, v);
    }
    for &(off, v) in &vals {
        assert_eq!(e.reg_read(off), v, "register {off:#x}");
    }
    let hw = e.reg_read(conv::HWCFG);
    assert_eq!(
        (hw & conv::HWCFG_LANES_MASK) >> conv::HWCFG_LANES_SHIFT,
        firmware::regs::LANES as u32
    );
    assert_eq!(
        (hw & conv::HWCFG_KMAX_MASK) >> conv::HWCFG_KMAX_SHIFT,
        firmware::regs::KMAX as u32
    );
    assert_eq!(
        1 << ((hw & conv::HWCFG_WBUF_LOG2_MASK) >> conv::HWCFG_WBUF_LOG2_SHIFT),
        firmware::regs::WBUF_DEPTH as u32
    );
    assert_eq!(e.reg_read(conv::STATUS), 0);
}

#[test]
fn fst_trace_is_written() {
    let path = match std::env::var("SIM_TRACE") {
        Ok(p) => std::path::PathBuf::from(p).with_extension("robustness.fst"),
        Err(_) => std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conv_engine_trace.fst"),
    };
    let _ = std::fs::remove_file(&path);
    {
        let mut e = engine(15);
        e.open_trace(&path).unwrap();
        let l = ConvLayer::random(&mut Rng::new(5), 6, 6, 2, 5, 3, true);
        let r = e.run(&l).unwrap();
        assert_eq!(r.output, l.reference());
    } // dropping the engine closes the trace
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(len > 1000, "trace {} has {len} bytes", path.display());
}
