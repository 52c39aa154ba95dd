//! P-layer engine conformance: the Verilated `pengine` (through `sim::pengine`) vs
//! `firmware::numerics::dense_p_acc` + `requantize`, bit-exact, on a par with the conv engine's
//! suite (`conformance.rs`):
//! - random layers (`SIM_CASES`, default 200; `SIM_SEED`): every code width, sparse to dense
//!   rows, all-zero rows, fan-in up to the paper's 3380, hidden (u8) and final (i32) outputs,
//!   packed and record-strided requantisation arrays, exponents up to the largest the code width
//!   holds, biases at the accumulator bound `|bias| + 255 * sum|w| = 2^31 - 1` and at
//!   `i32::MIN/MAX`, under SoC timing, zero-wait memory and random stalls, aligned and not;
//! - the ERR path (an entry indexing past `N_IN`: flagged, skipped, nothing read past `N_IN`),
//!   `N_OUT = 0`, reset in the middle of a run, register writes (and START) while busy.
//!
//! `SIM_CASES=10000 cargo test -p sim --release --test pengine random_cases` is the long run
//! (docs/performance.md records one); `SIM_TRACE=path.fst` traces.

/// Without Verilator (no model was built) every test here fails with the setup hint.
#[cfg(sim_no_verilator)]
#[test]
fn pengine_model_is_missing() {
    panic!("{}", sim::vl::MISSING.unwrap_or("no model"));
}

#[cfg(not(sim_no_verilator))]
mod rtl {
    use firmware::regs::pengine as pe;
    use sim::conv::Stalls;
    use sim::pengine::{PEngine, PLayer, PRun};
    use sim::rng::Rng;

    fn cases() -> usize {
        std::env::var("SIM_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200)
    }

    fn seed() -> u64 {
        std::env::var("SIM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x9E_5EED)
    }

    fn engine(seed: u64) -> PEngine {
        PEngine::new(seed).unwrap_or_else(|e| panic!("{e}"))
    }

    fn describe(l: &PLayer) -> String {
        format!(
            "bits {} final {} n_in {} n_out {} entries {}",
            l.bits,
            l.fin,
            l.input.len(),
            l.row_len.len(),
            l.entries.len()
        )
    }

    /// Runs `l` and asserts DONE, no ERR, the reference output and a clean bus.
    fn check(e: &mut PEngine, l: &PLayer, what: &str) -> PRun {
        let r = e
            .run(l)
            .unwrap_or_else(|err| panic!("{what}: {}: {err}", describe(l)));
        assert_eq!(
            r.status,
            pe::STATUS_DONE_MASK,
            "{what}: {}: STATUS after the run",
            describe(l)
        );
        let want = l.reference();
        if r.output != want {
            let first = r.output.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "{what}: {}: output differs from numerics::dense_p_acc (+ requantize), first at \
                 byte {first:?}",
                describe(l)
            );
        }
        r
    }

    /// The memory timings the cases cycle through.
    fn timing(r: &mut Rng) -> Stalls {
        match r.usize(0, 3) {
            0 => Stalls::SOC,
            1 => Stalls::ZERO_WAIT,
            2 => Stalls::RANDOM,
            _ => Stalls {
                min_wait: r.range(0, 3) as u32,
                ready_percent: r.range(10, 100) as u32,
            },
        }
    }

    #[test]
    fn random_cases() {
        let mut r = Rng::new(seed());
        let mut e = engine(seed());
        let (mut words, mut cycles) = (0usize, 0u64);
        for i in 0..cases() {
            let l = PLayer::random_case(&mut r);
            e.stalls = timing(&mut r);
            e.unaligned = r.chance(50);
            let what = format!("random case {i} (seed {:#x}, {:?})", seed(), e.stalls);
            cycles += u64::from(check(&mut e, &l, &what).cycles);
            words += l.row_len.len();
        }
        eprintln!(
            "P engine: {} random cases bit-exact ({words} outputs, {cycles} engine cycles)",
            cases()
        );
    }

    #[test]
    fn every_code_width_soc_timing_and_stalls() {
        let mut r = Rng::new(11);
        let mut e = engine(100);
        for bits in firmware::numerics::PBITS_MIN..=firmware::numerics::PBITS_MAX {
            for (i, stalls) in [Stalls::SOC, Stalls::RANDOM].into_iter().enumerate() {
                let n_in = r.usize(1, 300);
                let n_out = r.usize(1, 24);
                let density = r.range(1, 40) as u32;
                let l = PLayer::random(&mut r, bits, n_in, n_out, density, 20, i == 1);
                e.stalls = stalls;
                check(&mut e, &l, &format!("bits {bits}"));
            }
        }
    }

    #[test]
    fn all_zero_rows_max_fan_in_and_extreme_exponents() {
        let mut r = Rng::new(12);
        let mut e = engine(1);
        // every row empty
        check(
            &mut e,
            &PLayer::random(&mut r, 4, 50, 8, 0, 100, false),
            "empty rows",
        );
        // maximum fan-in: every weight non-zero, largest exponents of the 7-bit code
        e.stalls = Stalls::RANDOM;
        check(
            &mut e,
            &PLayer::random(&mut r, 7, 400, 6, 100, 0, true),
            "dense 7",
        );
        check(
            &mut e,
            &PLayer::random(&mut r, 2, 400, 6, 100, 0, false),
            "dense 2",
        );
    }

    /// Every weight at the largest shift a code width holds and at the shift the accumulator
    /// bound allows, with the bias at the bound: `|bias| + 255 * sum|w| = 2^31 - 1` exactly.
    #[test]
    fn maximum_exponents_and_biases_at_the_accumulator_bound() {
        let mut r = Rng::new(14);
        let mut e = engine(14);
        for bits in firmware::numerics::PBITS_MIN..=firmware::numerics::PBITS_MAX {
            let max_shift = u32::from(firmware::numerics::PCode::max_shift(bits));
            // one non-zero weight per row at shift s; 255 << 23 < 2^31 <= 255 << 24
            let s = max_shift.min(23);
            for fin in [false, true] {
                let row: Vec<i32> = (0..40).map(|i| if i == 7 { 1 << s } else { 0 }).collect();
                let neg: Vec<i32> = row.iter().map(|w| -w).collect();
                let mut l = PLayer::from_weights(&mut r, bits, &[row, neg.clone(), neg], fin);
                l.input.fill(255);
                let room = i32::MAX - 255 * (1 << s);
                l.bias = vec![room, -room, room];
                let acc = l.acc_with_n_in(l.input.len()).0;
                assert_eq!(
                    acc[..2],
                    [i32::MAX, -i32::MAX],
                    "the case sits at the bound"
                );
                check(&mut e, &l, &format!("bits {bits} shift {s} final {fin}"));
            }
            // the code's largest shift (wrapping modulo 2^32 past the bound, as the reference)
            let s = max_shift.min(sim::pengine::SHIFT_DEFINED_MAX);
            let row: Vec<i32> = (0..40)
                .map(|i| if i % 3 == 0 { 1 << s } else { 0 })
                .collect();
            let mut l = PLayer::from_weights(&mut r, bits, &[row.clone(), row], true);
            l.bias = vec![i32::MAX, i32::MIN];
            check(&mut e, &l, &format!("bits {bits} largest shift {s}"));
        }
    }

    #[test]
    fn paper_p_layer_cycles() {
        // 3380 -> 64 at 10 % density, 4-bit codes (the paper CNN's P layer)
        let mut r = Rng::new(13);
        let l = PLayer::random(&mut r, 4, 3380, 64, 10, 0, false);
        let cycles = check(&mut engine(4), &l, "paper P layer").cycles;
        let nz: usize = l.entries.iter().filter(|&&e| e & 7 != 0).count();
        eprintln!(
            "paper P layer: {nz} non-zero weights, {} entries, {cycles} cycles",
            l.entries.len()
        );
        assert!(cycles < 5 * nz as u32, "{cycles} cycles for {nz} weights");
    }

    /// A bad configuration: `N_IN` smaller than the rows' reach. The engine sets ERR with
    /// DONE, skips exactly the terms past `N_IN` (nothing is read beyond it: the memory model
    /// fails the run otherwise), and the next good run clears ERR.
    #[test]
    fn err_path_entries_beyond_n_in() {
        let mut r = Rng::new(15);
        let mut e = engine(15);
        let mut flagged = 0;
        for i in 0..40 {
            let bits = r.range(2, 7) as u8;
            let n_in = r.usize(8, 200);
            let (n_out, fin) = (r.usize(1, 12), r.chance(50));
            let l = PLayer::random(&mut r, bits, n_in, n_out, 30, 10, fin);
            let short = r.usize(0, n_in - 1);
            e.stalls = timing(&mut r);
            let (acc, err) = l.acc_with_n_in(short);
            let run = e
                .run_with_n_in(&l, short)
                .unwrap_or_else(|m| panic!("case {i}: {}: {m}", describe(&l)));
            let want_status = pe::STATUS_DONE_MASK | if err { pe::STATUS_ERR_MASK } else { 0 };
            assert_eq!(run.status, want_status, "case {i}: N_IN {short}: STATUS");
            assert_eq!(
                run.output,
                l.output_of(&acc),
                "case {i}: N_IN {short}: output with the out-of-range terms skipped"
            );
            flagged += usize::from(err);
            // the next good run clears ERR
            check(&mut e, &l, &format!("case {i}: after ERR"));
        }
        assert!(
            flagged >= 30,
            "only {flagged} of 40 cases reached the ERR path"
        );
    }

    /// Inputs at and beyond the input buffer (`N_IN` up to 4093 bytes is copied at START, a
    /// larger one is read a word at a time), unaligned, under every memory timing; and the ERR
    /// path on either side of the buffer's size (the copy reads nothing past `N_IN`).
    #[test]
    fn inputs_at_and_beyond_the_input_buffer() {
        let max = 4 * firmware::regs::PENGINE_BUF_WORDS - 3;
        assert_eq!(max, 4093, "the cases below are placed around this size");
        let mut r = Rng::new(19);
        let mut e = engine(19);
        e.unaligned = true;
        for (i, n_in) in [4093, 4093, 4093, 4093, 4094, 4096, 6000, 12000]
            .into_iter()
            .enumerate()
        {
            let bits = r.range(2, 7) as u8;
            let n_out = r.usize(1, 4);
            // dense rows at the buffer's edge: every input word is used
            let density = if n_in <= 4096 { 100 } else { 10 };
            let l = PLayer::random(&mut r, bits, n_in, n_out, density, 0, i % 2 == 1);
            e.stalls = timing(&mut r);
            let what = format!("case {i}: {:?}", e.stalls);
            check(&mut e, &l, &what);
        }
        for (i, short) in [4000, 4093, 4094, 4500].into_iter().enumerate() {
            let l = PLayer::random(&mut r, 4, 5000, 3, 10, 0, i % 2 == 1);
            e.stalls = timing(&mut r);
            let (acc, err) = l.acc_with_n_in(short);
            assert!(err, "case {i}: N_IN {short} reaches the ERR path");
            let run = e
                .run_with_n_in(&l, short)
                .unwrap_or_else(|m| panic!("case {i}: {}: {m}", describe(&l)));
            assert_eq!(
                run.status,
                pe::STATUS_DONE_MASK | pe::STATUS_ERR_MASK,
                "case {i}: N_IN {short}: STATUS"
            );
            assert_eq!(
                run.output,
                l.output_of(&acc),
                "case {i}: N_IN {short}: output with the out-of-range terms skipped"
            );
        }
    }

    /// `N_OUT = 0`: DONE at once, nothing read or written.
    #[test]
    fn zero_outputs_finish_at_once() {
        let mut r = Rng::new(16);
        let mut e = engine(16);
        let l = PLayer::random(&mut r, 3, 10, 1, 50, 0, false);
        let p = e.place(&l);
        e.configure(&l, &p, 10);
        e.reg_write(pe::N_OUT, 0);
        let before = e.mem.clone();
        e.start();
        assert_eq!(e.wait_done(10).unwrap(), pe::STATUS_DONE_MASK);
        assert!(e.bus.errors.is_empty(), "{:?}", e.bus.errors);
        assert_eq!(e.mem, before, "memory changed");
    }

    /// Reset at a random point of a run: the engine stops at once (no further bus requests,
    /// STATUS and the configuration back to their reset values), and the next run is exact.
    #[test]
    fn reset_mid_run() {
        let mut r = Rng::new(17);
        let mut e = engine(17);
        for i in 0..30 {
            let l = PLayer::random_case(&mut r);
            e.stalls = timing(&mut r);
            let p = e.place(&l);
            e.configure(&l, &p, l.input.len());
            e.start();
            let n = r.range(0, 400);
            for _ in 0..n {
                e.step();
            }
            e.reset();
            assert!(!e.busy(), "case {i}: busy after reset");
            assert_eq!(e.reg_read(pe::STATUS), 0, "case {i}: STATUS after reset");
            assert_eq!(
                e.reg_read(pe::CFG),
                4 << pe::CFG_BITS_SHIFT,
                "case {i}: CFG after reset"
            );
            assert_eq!(e.reg_read(pe::N_OUT), 0, "case {i}: N_OUT after reset");
            assert_eq!(e.reg_read(pe::CYCLES), 0, "case {i}: CYCLES after reset");
            // idle after reset: no bus request for a while
            let before = e.mem.clone();
            for _ in 0..50 {
                assert!(!e.bus_request(), "case {i}: bus request after reset");
                e.step();
            }
            assert_eq!(e.mem, before, "case {i}: memory written after reset");
            let l2 = PLayer::random_case(&mut r);
            check(&mut e, &l2, &format!("case {i}: after reset at cycle {n}"));
        }
    }

    /// Configuration writes and START while busy are ignored: the run finishes with the first
    /// configuration's exact result and the registers read back as programmed.
    #[test]
    fn register_writes_while_busy_are_ignored() {
        let mut r = Rng::new(18);
        let mut e = engine(18);
        let regs = [
            pe::CFG,
            pe::N_OUT,
            pe::N_IN,
            pe::IN_ADDR,
            pe::ENT_ADDR,
            pe::LEN_ADDR,
            pe::BIAS_ADDR,
            pe::MULT_ADDR,
            pe::SHIFT_ADDR,
            pe::OUT_ADDR,
            pe::RQ_STRIDE,
            pe::CTRL,
        ];
        let mut writes_while_busy = 0;
        for i in 0..30 {
            let mut l = PLayer::random_case(&mut r);
            if l.row_len.len() < 4 {
                let fin = r.chance(50);
                l = PLayer::random(&mut r, 5, 200, 8, 30, 0, fin);
            }
            e.stalls = timing(&mut r);
            let p = e.place(&l);
            e.configure(&l, &p, l.input.len());
            let readback = |e: &mut PEngine| {
                [pe::CFG, pe::N_OUT, pe::N_IN, pe::RQ_STRIDE].map(|a| e.reg_read(a))
            };
            let programmed = readback(&mut e);
            e.start();
            for _ in 0..r.range(0, 20) {
                e.step();
            }
            while e.busy() {
                let a = regs[r.usize(0, regs.len() - 1)];
                let v = if a == pe::CTRL {
                    1
                } else {
                    r.next_u64() as u32
                };
                e.reg_write(a, v);
                writes_while_busy += 1;
                let s = e.reg_read(pe::STATUS);
                if e.busy() {
                    assert_eq!(s & pe::STATUS_BUSY_MASK, 1, "case {i}: STATUS.BUSY");
                }
                for _ in 0..r.range(0, 30) {
                    e.step();
                }
            }
            let status = e.reg_read(pe::STATUS);
            assert_eq!(status, pe::STATUS_DONE_MASK, "case {i}: STATUS");
            assert!(e.bus.errors.is_empty(), "case {i}: {:?}", e.bus.errors);
            assert_eq!(
                e.output(&l, &p),
                l.reference(),
                "case {i}: {}",
                describe(&l)
            );
            assert_eq!(readback(&mut e), programmed, "case {i}: registers changed");
        }
        assert!(
            writes_while_busy > 100,
            "{writes_while_busy} writes while busy"
        );
    }
}
