//! P-layer engine (Verilated `pengine`, the SoC's 18-bit pointers) vs
//! `firmware::numerics::dense_p_acc` + `requantize`, bit-exact: random sparse layers with
//! all-zero rows, maximum fan-in (every weight non-zero), extreme exponents and shifts, every
//! code width, hidden (u8) and final (i32) outputs, under SoC timing and random bus stalls.

/// Without Verilator (no model was built) every test here fails with the setup hint.
#[cfg(sim_no_verilator)]
#[test]
fn pengine_model_is_missing() {
    panic!("{}", sim::vl::MISSING.unwrap_or("no model"));
}

#[cfg(not(sim_no_verilator))]
mod rtl {
    use firmware::model::encode_p_row;
    use firmware::numerics::{dense_p_acc, requantize, PCode, Requant, PBITS_MAX, PBITS_MIN};
    use firmware::regs::{pengine as pe, RAM_BASE, RAM_SIZE};
    use sim::rng::Rng;

    struct Layer {
        bits: u8,
        input: Vec<u8>,
        entries: Vec<u8>,
        row_len: Vec<u16>,
        bias: Vec<i32>,
        rq: Vec<Requant>,
        fin: bool,
    }

    impl Layer {
        /// `density` percent non-zero weights; `zero_rows` percent rows with none.
        fn random(
            r: &mut Rng,
            bits: u8,
            n_in: usize,
            n_out: usize,
            density: u32,
            zero_rows: u32,
            fin: bool,
        ) -> Layer {
            let max_e = i32::from(PCode::max_shift(bits)).min(23); // keep |acc| far from i32 overflow
            let mut entries = Vec::new();
            let row_len = (0..n_out)
                .map(|_| {
                    let empty = r.chance(zero_rows);
                    let row: Vec<i32> = (0..n_in)
                        .map(|_| {
                            if empty || !r.chance(density) {
                                return 0;
                            }
                            let v = 1 << r.range(0, max_e as u64);
                            if r.chance(50) {
                                -v
                            } else {
                                v
                            }
                        })
                        .collect();
                    encode_p_row(0, &row, bits, &mut entries).unwrap()
                })
                .collect();
            Layer {
                bits,
                input: (0..n_in).map(|_| r.range(0, 255) as u8).collect(),
                entries,
                row_len,
                bias: (0..n_out)
                    .map(|_| r.range(0, 1 << 20) as i32 - (1 << 19))
                    .collect(),
                rq: (0..n_out)
                    .map(|_| Requant {
                        m: r.range(1, u64::from(firmware::numerics::MULT_MAX)) as u16,
                        shift: [1, 2, 16, 24, 31, 40, 47][r.usize(0, 6)],
                    })
                    .collect(),
                fin,
            }
        }

        fn reference(&self) -> Vec<u8> {
            let mut acc = vec![0i32; self.row_len.len()];
            dense_p_acc(
                &self.input,
                &self.entries,
                &self.row_len,
                self.bits,
                &self.bias,
                &mut acc,
            );
            if self.fin {
                acc.iter().flat_map(|a| a.to_le_bytes()).collect()
            } else {
                acc.iter()
                    .zip(&self.rq)
                    .map(|(&a, &q)| requantize(a, q))
                    .collect()
            }
        }
    }

    /// Ready after `min_wait` cycles, then with `ready_percent` chance per cycle.
    #[derive(Clone, Copy)]
    struct Timing {
        min_wait: u32,
        ready_percent: u32,
    }
    const SOC: Timing = Timing {
        min_wait: 1,
        ready_percent: 100,
    };
    const STALLS: Timing = Timing {
        min_wait: 0,
        ready_percent: 30,
    };

    fn run(l: &Layer, timing: Timing, seed: u64) -> (Vec<u8>, u32, u32) {
        let mut m = sim::vl::PengineModel::new();
        let mut r = Rng::new(seed);
        let mut mem = vec![0u8; RAM_SIZE as usize];
        // place the arrays at 4-aligned offsets with random gaps
        let mut at = 0x100usize;
        let mut place = |bytes: &[u8], mem: &mut Vec<u8>, r: &mut Rng| {
            let a = at;
            mem[a..a + bytes.len()].copy_from_slice(bytes);
            at = (a + bytes.len() + 3 + 4 * r.usize(0, 8)) & !3;
            RAM_BASE + a as u32
        };
        let le16: Vec<u8> = l.row_len.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bias: Vec<u8> = l.bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mult: Vec<u8> = l.rq.iter().flat_map(|q| q.m.to_le_bytes()).collect();
        let shift: Vec<u8> = l.rq.iter().map(|q| q.shift).collect();
        let regs = [
            (pe::IN_ADDR, place(&l.input, &mut mem, &mut r)),
            (pe::ENT_ADDR, place(&l.entries, &mut mem, &mut r)),
            (pe::LEN_ADDR, place(&le16, &mut mem, &mut r)),
            (pe::BIAS_ADDR, place(&bias, &mut mem, &mut r)),
            (pe::MULT_ADDR, place(&mult, &mut mem, &mut r)),
            (pe::SHIFT_ADDR, place(&shift, &mut mem, &mut r)),
        ];
        let out_len = if l.fin {
            4 * l.row_len.len()
        } else {
            l.row_len.len()
        };
        let out_addr = place(&vec![0xA5; out_len], &mut mem, &mut r);

        m.set_rst_ni(0);
        m.tick();
        m.tick();
        m.set_rst_ni(1);
        let reg = |m: &mut sim::vl::PengineModel, addr: u32, wdata: Option<u32>| -> u32 {
            m.set_reg_valid_i(1);
            m.set_reg_addr_i(addr as u16);
            m.set_reg_wdata_i(wdata.unwrap_or(0));
            m.set_reg_wstrb_i(if wdata.is_some() { 0xF } else { 0 });
            for _ in 0..10 {
                m.eval();
                if m.reg_ready_o() != 0 {
                    let v = m.reg_rdata_o();
                    m.tick();
                    m.set_reg_valid_i(0);
                    return v;
                }
                m.tick();
            }
            panic!("register {addr:#x} did not answer");
        };
        for (a, v) in regs {
            reg(&mut m, a, Some(v));
        }
        reg(&mut m, pe::OUT_ADDR, Some(out_addr));
        reg(&mut m, pe::RQ_STRIDE, Some(1 << pe::RQ_STRIDE_M_LG_SHIFT));
        reg(
            &mut m,
            pe::CFG,
            Some(
                (u32::from(l.bits) << pe::CFG_BITS_SHIFT)
                    | (u32::from(l.fin) << pe::CFG_FINAL_SHIFT),
            ),
        );
        reg(&mut m, pe::N_OUT, Some(l.row_len.len() as u32));
        reg(&mut m, pe::N_IN, Some(l.input.len() as u32));
        reg(&mut m, pe::CTRL, Some(1));
        let mut waited = 0u32;
        for cycle in 0.. {
            assert!(cycle < 50_000_000, "engine hung");
            m.eval();
            let mut ready = false;
            if m.mem_valid_o() != 0 {
                let addr = m.mem_addr_o();
                let i = (addr - RAM_BASE) as usize & !3;
                assert!(
                    addr >= RAM_BASE && i + 4 <= mem.len(),
                    "access outside RAM: {addr:#x}"
                );
                if waited >= timing.min_wait && r.chance(timing.ready_percent) {
                    ready = true;
                    let (w, s) = (m.mem_wdata_o(), m.mem_wstrb_o());
                    for b in 0..4 {
                        if s >> b & 1 != 0 {
                            mem[i + b] = (w >> (8 * b)) as u8;
                        }
                    }
                    m.set_mem_rdata_i(u32::from_le_bytes(mem[i..i + 4].try_into().unwrap()));
                    waited = 0;
                } else {
                    waited += 1;
                }
            }
            m.set_mem_ready_i(ready.into());
            if m.mem_valid_o() == 0 && m.busy_o() == 0 {
                break;
            }
            m.tick();
            m.set_mem_ready_i(0);
        }
        let status = reg(&mut m, pe::STATUS, None);
        let cycles = reg(&mut m, pe::CYCLES, None);
        let o = (out_addr - RAM_BASE) as usize;
        (mem[o..o + out_len].to_vec(), status, cycles)
    }

    fn check(l: &Layer, timing: Timing, seed: u64) -> u32 {
        let (out, status, cycles) = run(l, timing, seed);
        assert_eq!(status & pe::STATUS_ERR_MASK, 0, "ERR set");
        assert_ne!(status & pe::STATUS_DONE_MASK, 0, "DONE not set");
        assert_eq!(
            out,
            l.reference(),
            "bits {} final {} n_in {} n_out {}",
            l.bits,
            l.fin,
            l.input.len(),
            l.row_len.len()
        );
        cycles
    }

    #[test]
    fn random_layers_every_code_width_soc_timing_and_stalls() {
        let mut r = Rng::new(11);
        for bits in PBITS_MIN..=PBITS_MAX {
            for (i, timing) in [SOC, STALLS].into_iter().enumerate() {
                let n_in = r.usize(1, 300);
                let n_out = r.usize(1, 24);
                let density = r.range(1, 40) as u32;
                let l = Layer::random(&mut r, bits, n_in, n_out, density, 20, i == 1);
                check(&l, timing, 100 + u64::from(bits));
            }
        }
    }

    #[test]
    fn all_zero_rows_max_fan_in_and_extreme_exponents() {
        let mut r = Rng::new(12);
        // every row empty
        check(&Layer::random(&mut r, 4, 50, 8, 0, 100, false), SOC, 1);
        // maximum fan-in: every weight non-zero, largest exponents of the 7-bit code
        check(&Layer::random(&mut r, 7, 400, 6, 100, 0, true), STALLS, 2);
        check(&Layer::random(&mut r, 2, 400, 6, 100, 0, false), STALLS, 3);
    }

    #[test]
    fn paper_p_layer_cycles() {
        // 3380 -> 64 at 10 % density, 4-bit codes (the paper CNN's P layer)
        let mut r = Rng::new(13);
        let l = Layer::random(&mut r, 4, 3380, 64, 10, 0, false);
        let cycles = check(&l, SOC, 4);
        let nz: usize = l.entries.iter().filter(|&&e| e & 7 != 0).count();
        eprintln!(
            "paper P layer: {nz} non-zero weights, {} entries, {cycles} cycles",
            l.entries.len()
        );
        assert!(cycles < 5 * nz as u32, "{cycles} cycles for {nz} weights");
    }
}
