//! Driver for the Verilated P-layer engine (`pengine`): one P layer's data ([`PLayer`], random
//! generation including the accumulator-bound and maximum-exponent extremes, the golden result
//! from `firmware::numerics::dense_p_acc` + `requantize`), and [`PEngine`] = the model with a
//! memory on its bus master port (the conv driver's [`Stalls`]), register accesses that keep
//! the memory answering (so registers can be written while the engine runs), reset, and `run`.
//!
//! ```no_run
//! use sim::{pengine::{PEngine, PLayer}, rng::Rng};
//! let mut rng = Rng::new(1);
//! let layer = PLayer::random(&mut rng, 4, 100, 8, 20, 10, false);
//! let mut e = PEngine::new(7).unwrap();
//! let run = e.run(&layer).unwrap();
//! assert_eq!(run.output, layer.reference());
//! ```

use firmware::model::encode_p_row;
use firmware::numerics::{requantize, PCode, Requant, MULT_MAX};
use firmware::regs::{pengine as pe, RAM_BASE, RAM_SIZE};

use crate::conv::Stalls;
use crate::rng::Rng;

/// One P layer (layouts as in `numerics::dense_p_acc`).
#[derive(Clone, Debug)]
pub struct PLayer {
    /// Code width of the entry bytes (2..=7).
    pub bits: u8,
    /// `[n_in]` u8 activations.
    pub input: Vec<u8>,
    /// All rows' entry bytes, back to back.
    pub entries: Vec<u8>,
    /// `[n_out]` entry count per row.
    pub row_len: Vec<u16>,
    /// `[n_out]` i32.
    pub bias: Vec<i32>,
    /// `[n_out]` requantisation (unused when `fin`).
    pub rq: Vec<Requant>,
    /// Final layer: raw i32 accumulators instead of requantised u8.
    pub fin: bool,
}

/// The largest weight shift the firmware reference defines for every code width: terms are
/// `i32 << shift`, so shifts of 32 and more (codes of width 7 allow up to 62) have no i32
/// meaning; the model reader rejects them anyway (they break the accumulator bound).
pub const SHIFT_DEFINED_MAX: u32 = 31;

impl PLayer {
    /// Output length in bytes.
    pub fn out_len(&self) -> usize {
        if self.fin {
            4 * self.row_len.len()
        } else {
            self.row_len.len()
        }
    }

    /// Accumulators as the engine computes them when its `N_IN` register holds `n_in`: a
    /// non-zero entry whose input index is `>= n_in` is skipped (and flags ERR). With
    /// `n_in = input.len()` and an in-bounds layer this is `numerics::dense_p_acc`. Returns the
    /// accumulators and whether any entry was out of range.
    pub fn acc_with_n_in(&self, n_in: usize) -> (Vec<i32>, bool) {
        let mut err = false;
        let mut e = 0usize;
        let acc = (0..self.row_len.len())
            .map(|o| {
                let mut a = self.bias[o];
                let mut cursor = 0usize;
                for _ in 0..self.row_len[o] {
                    let c = PCode::decode(self.entries[e], self.bits);
                    e += 1;
                    cursor += usize::from(c.skip);
                    if c.magnitude != 0 {
                        if cursor >= n_in {
                            err = true;
                        } else {
                            let term = i32::from(self.input[cursor]) << (c.magnitude - 1);
                            a = if c.negative {
                                a.wrapping_sub(term)
                            } else {
                                a.wrapping_add(term)
                            };
                        }
                    }
                    cursor += 1;
                }
                a
            })
            .collect();
        (acc, err)
    }

    /// Output bytes from accumulators (u8 requantised, or i32 LE when final).
    pub fn output_of(&self, acc: &[i32]) -> Vec<u8> {
        if self.fin {
            acc.iter().flat_map(|a| a.to_le_bytes()).collect()
        } else {
            acc.iter()
                .zip(&self.rq)
                .map(|(&a, &q)| requantize(a, q))
                .collect()
        }
    }

    /// The golden output: `numerics::dense_p_acc`, then `numerics::requantize` unless final.
    pub fn reference(&self) -> Vec<u8> {
        let mut acc = vec![0i32; self.row_len.len()];
        firmware::numerics::dense_p_acc(
            &self.input,
            &self.entries,
            &self.row_len,
            self.bits,
            &self.bias,
            &mut acc,
        );
        self.output_of(&acc)
    }

    /// A random layer: `density` percent non-zero weights, `zero_rows` percent of the rows
    /// without any, exponents up to `min(max_shift(bits), 23)` (255 << 23 < 2^31), biases of
    /// 20 bits.
    pub fn random(
        r: &mut Rng,
        bits: u8,
        n_in: usize,
        n_out: usize,
        density: u32,
        zero_rows: u32,
        fin: bool,
    ) -> PLayer {
        let max_e = u32::from(PCode::max_shift(bits)).min(23);
        let weights = random_weights(r, n_in, n_out, density, zero_rows, max_e);
        let mut l = PLayer::from_weights(r, bits, &weights, fin);
        l.bias = (0..n_out)
            .map(|_| r.range(0, 1 << 20) as i32 - (1 << 19))
            .collect();
        l
    }

    /// A layer from `[n_out][n_in]` power-of-two weights with random input and requantisation
    /// (zero biases).
    pub fn from_weights(r: &mut Rng, bits: u8, weights: &[Vec<i32>], fin: bool) -> PLayer {
        let n_in = weights.first().map_or(0, Vec::len);
        let mut entries = Vec::new();
        let row_len = weights
            .iter()
            .map(|row| encode_p_row(0, row, bits, &mut entries).expect("encodable row"))
            .collect();
        PLayer {
            bits,
            input: (0..n_in).map(|_| r.range(0, 255) as u8).collect(),
            entries,
            row_len,
            bias: vec![0; weights.len()],
            rq: (0..weights.len()).map(|_| random_requant(r)).collect(),
            fin,
        }
    }

    /// A random conformance case: any code width, shapes up to the paper's P layer fan-in,
    /// sparse to fully dense rows, and one of four regimes for exponents and biases:
    /// - ordinary (exponents up to 23, 20-bit biases);
    /// - at the accumulator bound: every input 255 (or random) and each bias set to
    ///   `±(2^31 - 1 - 255 * sum|w|)`, the largest the model reader accepts, so the sum reaches
    ///   `±(2^31 - 1)` without overflowing;
    /// - maximum exponents: every non-zero weight `±2^e` with the largest `e` the code width
    ///   allows (capped at [`SHIFT_DEFINED_MAX`]), sums wrapping modulo 2^32 as the reference's
    ///   `wrapping_add` does;
    /// - extreme biases `i32::MIN`/`i32::MAX` (wrapping).
    pub fn random_case(r: &mut Rng) -> PLayer {
        let bits = r.range(2, 7) as u8;
        let n_in = if r.chance(10) {
            r.usize(1000, 3380)
        } else {
            r.usize(1, 300)
        };
        let n_out = if r.chance(10) {
            r.usize(1, 64)
        } else {
            r.usize(1, 16)
        };
        let n_out = n_out.min(60_000 / n_in).max(1); // entries fit the 128 KiB RAM
        let density = [0, 1, 5, 10, 30, 60, 100][r.usize(0, 6)];
        let zero_rows = [0, 0, 10, 50][r.usize(0, 3)];
        let fin = r.chance(30);
        let code_max = u32::from(PCode::max_shift(bits)).min(SHIFT_DEFINED_MAX);
        match r.usize(0, 3) {
            0 => PLayer::random(r, bits, n_in, n_out, density, zero_rows, fin),
            1 => {
                // at the accumulator bound: 255 * sum|w| + |bias| = 2^31 - 1
                // 255 * (non-zero weights per row) * 2^max_e stays below 2^31 (expected count)
                let nz = (n_in * density as usize / 100 + 1) as u32;
                let max_e = code_max.min(23u32.saturating_sub(32 - (nz - 1).leading_zeros()));
                let weights = random_weights(r, n_in, n_out, density, zero_rows, max_e);
                let mut l = PLayer::from_weights(r, bits, &weights, fin);
                if r.chance(50) {
                    l.input.fill(255);
                }
                l.bias = weights
                    .iter()
                    .map(|row| {
                        let s: u64 = row.iter().map(|w| u64::from(w.unsigned_abs())).sum();
                        let room = (i32::MAX as u64).saturating_sub(255 * s);
                        let b = room as i32;
                        if r.chance(50) {
                            -b
                        } else {
                            b
                        }
                    })
                    .collect();
                l
            }
            2 => {
                // the largest exponent of the code width everywhere
                let weights: Vec<Vec<i32>> =
                    random_weights(r, n_in, n_out, density, zero_rows, code_max)
                        .into_iter()
                        .map(|row| {
                            row.into_iter()
                                .map(|w| w.signum().wrapping_shl(code_max))
                                .collect()
                        })
                        .collect();
                let mut l = PLayer::from_weights(r, bits, &weights, fin);
                if r.chance(50) {
                    l.input.fill(255);
                }
                l.bias = (0..n_out).map(|_| r.next_u64() as i32).collect();
                l
            }
            _ => {
                let mut l = PLayer::random(r, bits, n_in, n_out, density, zero_rows, fin);
                for b in &mut l.bias {
                    *b = [i32::MIN, i32::MAX, -1, 0][r.usize(0, 3)];
                }
                l
            }
        }
    }
}

/// `[n_out][n_in]` weights, each 0 or `±2^e` with `e` in `0..=max_e`.
fn random_weights(
    r: &mut Rng,
    n_in: usize,
    n_out: usize,
    density: u32,
    zero_rows: u32,
    max_e: u32,
) -> Vec<Vec<i32>> {
    (0..n_out)
        .map(|_| {
            let empty = r.chance(zero_rows);
            (0..n_in)
                .map(|_| {
                    if empty || !r.chance(density) {
                        return 0;
                    }
                    let v = 1i32.wrapping_shl(r.range(0, u64::from(max_e)) as u32);
                    if r.chance(50) {
                        v.wrapping_neg()
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect()
}

/// Requantisation parameters: the extremes of the contract, or random.
fn random_requant(r: &mut Rng) -> Requant {
    match r.usize(0, 5) {
        0 => Requant { m: 0, shift: 1 },
        1 => Requant {
            m: MULT_MAX,
            shift: 1,
        },
        2 => Requant {
            m: MULT_MAX,
            shift: 47,
        },
        _ => Requant {
            m: r.range(1, u64::from(MULT_MAX)) as u16,
            shift: [1, 2, 16, 24, 31, 40, 47][r.usize(0, 6)],
        },
    }
}

/// Where a layer's arrays sit in the memory model.
#[derive(Clone, Copy, Debug, Default)]
pub struct PPlacement {
    /// Input activations.
    pub input: u32,
    /// Entry bytes.
    pub entries: u32,
    /// Row lengths (u16).
    pub row_len: u32,
    /// Biases (i32).
    pub bias: u32,
    /// Multiplier 0 (stride `1 << m_lg`).
    pub mult: u32,
    /// Shift 0 (stride `1 << sh_lg`).
    pub shift: u32,
    /// log2 strides of the multiplier and shift arrays (`RQ_STRIDE`).
    pub m_lg: u32,
    /// See `m_lg`.
    pub sh_lg: u32,
    /// Output.
    pub output: u32,
}

/// Result of one layer on the RTL.
#[derive(Clone, Debug)]
pub struct PRun {
    /// Output bytes read back.
    pub output: Vec<u8>,
    /// STATUS after the run.
    pub status: u32,
    /// The engine's CYCLES register after the run.
    pub cycles: u32,
}

/// Problems the memory model saw: accesses outside RAM, writes outside the output, reads of
/// the input array beyond `N_IN`.
#[derive(Clone, Debug, Default)]
pub struct BusLog {
    /// Human-readable problems.
    pub errors: Vec<String>,
}

/// A Verilated P engine with its memory (the SoC's RAM region).
#[cfg_attr(sim_no_verilator, allow(dead_code))]
pub struct PEngine {
    #[cfg(not(sim_no_verilator))]
    m: crate::vl::PengineModel,
    /// Memory contents; `mem[0]` is at `RAM_BASE`.
    pub mem: Vec<u8>,
    /// Memory timing.
    pub stalls: Stalls,
    /// Place byte arrays (input, entries, u8 output) at random byte offsets.
    pub unaligned: bool,
    rng: Rng,
    waited: u32,
    /// Clock cycles since creation.
    pub cycle: u64,
    write_window: Option<(u32, u32)>,
    read_window: Option<(u32, u32, u32)>,
    /// Problems seen by the memory model.
    pub bus: BusLog,
}

impl PEngine {
    /// A reset engine over 128 KiB of RAM; `seed` drives stalls and placement.
    /// `SIM_TRACE=path` traces to an FST file (further engines: `path.1.fst`, ...).
    #[cfg(not(sim_no_verilator))]
    pub fn new(seed: u64) -> Result<Self, String> {
        let mut m = crate::vl::PengineModel::new();
        if let Some(path) = crate::conv::next_trace_path() {
            m.open_trace(std::path::Path::new(&path))
                .map_err(|e| e.to_string())?;
        }
        let mut e = PEngine {
            m,
            mem: vec![0; RAM_SIZE as usize],
            stalls: Stalls::SOC,
            unaligned: false,
            rng: Rng::new(seed),
            waited: 0,
            cycle: 0,
            write_window: None,
            read_window: None,
            bus: BusLog::default(),
        };
        e.reset();
        Ok(e)
    }

    /// Without Verilator there is no model: fails with the setup hint.
    #[cfg(sim_no_verilator)]
    pub fn new(_seed: u64) -> Result<Self, String> {
        let _ = &TRACE_COUNT;
        Err(crate::vl::MISSING.unwrap_or("no model").to_string())
    }
}

#[cfg(not(sim_no_verilator))]
impl PEngine {
    /// Holds `rst_ni` low for two cycles; the memory drops any transfer in progress.
    pub fn reset(&mut self) {
        self.m.set_reg_valid_i(0);
        self.m.set_reg_wstrb_i(0);
        self.m.set_mem_ready_i(0);
        self.m.set_rst_ni(0);
        self.m.tick();
        self.m.tick();
        self.m.set_rst_ni(1);
        self.m.tick();
        self.waited = 0;
        self.cycle += 3;
    }

    /// `busy_o`.
    pub fn busy(&mut self) -> bool {
        self.m.eval();
        self.m.busy_o() != 0
    }

    /// `mem_valid_o`: a bus request is pending.
    pub fn bus_request(&mut self) -> bool {
        self.m.eval();
        self.m.mem_valid_o() != 0
    }

    /// One clock cycle: the memory answers the bus (or stalls), then the clock ticks.
    pub fn step(&mut self) {
        self.m.eval();
        let mut ready = false;
        if self.m.mem_valid_o() != 0 {
            let addr = self.m.mem_addr_o();
            if self.waited >= self.stalls.min_wait && self.rng.chance(self.stalls.ready_percent) {
                ready = true;
                self.waited = 0;
                self.access(addr);
            } else {
                self.waited += 1;
            }
        } else {
            self.waited = 0;
        }
        self.m.set_mem_ready_i(ready.into());
        self.m.tick();
        self.m.set_mem_ready_i(0);
        self.cycle += 1;
    }

    fn access(&mut self, addr: u32) {
        let word = addr & !3;
        let Some(o) = word
            .checked_sub(RAM_BASE)
            .map(|o| o as usize)
            .filter(|&o| o + 4 <= self.mem.len())
        else {
            self.bus
                .errors
                .push(format!("access outside RAM at {addr:#x}"));
            return;
        };
        let (wdata, wstrb) = (self.m.mem_wdata_o(), self.m.mem_wstrb_o());
        if wstrb == 0 {
            if let Some((lo, hi, end)) = self.read_window {
                // the input array's words past N_IN (word granularity: the last partial word
                // may be read)
                if word >= lo && word < end && word >= (hi + 3) & !3 {
                    self.bus
                        .errors
                        .push(format!("input read beyond N_IN at {addr:#x}"));
                }
            }
            self.m
                .set_mem_rdata_i(u32::from_le_bytes(self.mem[o..o + 4].try_into().unwrap()));
        } else {
            for b in 0..4u32 {
                if wstrb >> b & 1 == 1 {
                    let a = word + b;
                    match self.write_window {
                        Some((lo, hi)) if a >= lo && a < hi => {}
                        _ => self.bus.errors.push(format!("stray write at {a:#x}")),
                    }
                    self.mem[o + b as usize] = (wdata >> (8 * b)) as u8;
                }
            }
        }
    }

    fn reg_access(&mut self, addr: u32, wdata: Option<u32>) -> u32 {
        self.m.set_reg_valid_i(1);
        self.m.set_reg_addr_i(addr as u16);
        self.m.set_reg_wdata_i(wdata.unwrap_or(0));
        self.m
            .set_reg_wstrb_i(if wdata.is_some() { 0xF } else { 0 });
        for _ in 0..10 {
            self.m.eval();
            if self.m.reg_ready_o() != 0 {
                let v = self.m.reg_rdata_o();
                self.step();
                self.m.set_reg_valid_i(0);
                self.m.set_reg_wstrb_i(0);
                return v;
            }
            self.step();
        }
        panic!("P engine register {addr:#x} did not answer");
    }

    /// Writes a register (byte offset within the PENGINE block); the memory keeps answering.
    pub fn reg_write(&mut self, off: u32, v: u32) {
        self.reg_access(off, Some(v));
    }

    /// Reads a register (byte offset within the PENGINE block).
    pub fn reg_read(&mut self, off: u32) -> u32 {
        self.reg_access(off, None)
    }

    /// Clears the memory and copies a layer's arrays into it (random gaps; the byte arrays at
    /// random alignment when `self.unaligned`; multipliers and shifts packed or as 4-byte
    /// records at random). The output area is filled with garbage.
    pub fn place(&mut self, l: &PLayer) -> PPlacement {
        self.mem.fill(0);
        let mut at = 0x40 + 4 * self.rng.usize(0, 16);
        let mut put = |e: &mut PEngine, data: &[u8], align: usize| -> u32 {
            at += e.rng.usize(0, 16);
            let align = if e.unaligned { align } else { align.max(4) };
            at = at.div_ceil(align) * align;
            assert!(at + data.len() <= e.mem.len(), "layer does not fit the RAM");
            e.mem[at..at + data.len()].copy_from_slice(data);
            let a = RAM_BASE + at as u32;
            at += data.len();
            a
        };
        let len: Vec<u8> = l.row_len.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bias: Vec<u8> = l.bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let input = put(self, &l.input, 1);
        let entries = put(self, &l.entries, 1);
        let row_len = put(self, &len, 2);
        let bias = put(self, &bias, 4);
        let (mult, shift, m_lg, sh_lg) = if self.rng.chance(50) {
            let m: Vec<u8> = l.rq.iter().flat_map(|q| q.m.to_le_bytes()).collect();
            let s: Vec<u8> = l.rq.iter().map(|q| q.shift).collect();
            (put(self, &m, 2), put(self, &s, 1), 1, 0)
        } else {
            // {m: u16, shift: u8, pad} records
            let rec: Vec<u8> =
                l.rq.iter()
                    .flat_map(|q| {
                        let [a, b] = q.m.to_le_bytes();
                        [a, b, q.shift, 0x5A]
                    })
                    .collect();
            let a = put(self, &rec, 4);
            (a, a + 2, 2, 2)
        };
        let garbage: Vec<u8> = (0..l.out_len())
            .map(|_| self.rng.next_u64() as u8)
            .collect();
        let output = put(self, &garbage, if l.fin { 4 } else { 1 });
        PPlacement {
            input,
            entries,
            row_len,
            bias,
            mult,
            shift,
            m_lg,
            sh_lg,
            output,
        }
    }

    /// Programs every configuration register for `l` at `p`, with `N_IN = n_in`.
    pub fn configure(&mut self, l: &PLayer, p: &PPlacement, n_in: usize) {
        self.write_window = Some((p.output, p.output + l.out_len() as u32));
        self.read_window = Some((
            p.input,
            p.input + n_in.min(l.input.len()) as u32,
            p.input + l.input.len() as u32,
        ));
        for (off, v) in [
            (pe::IN_ADDR, p.input),
            (pe::ENT_ADDR, p.entries),
            (pe::LEN_ADDR, p.row_len),
            (pe::BIAS_ADDR, p.bias),
            (pe::MULT_ADDR, p.mult),
            (pe::SHIFT_ADDR, p.shift),
            (pe::OUT_ADDR, p.output),
            (
                pe::RQ_STRIDE,
                (p.m_lg << pe::RQ_STRIDE_M_LG_SHIFT) | (p.sh_lg << pe::RQ_STRIDE_SH_LG_SHIFT),
            ),
            (
                pe::CFG,
                (u32::from(l.bits) << pe::CFG_BITS_SHIFT)
                    | (u32::from(l.fin) << pe::CFG_FINAL_SHIFT),
            ),
            (pe::N_OUT, l.row_len.len() as u32),
            (pe::N_IN, n_in as u32),
        ] {
            self.reg_write(off, v);
        }
    }

    /// Writes CTRL.START.
    pub fn start(&mut self) {
        self.reg_write(pe::CTRL, pe::CTRL_START_MASK);
    }

    /// Runs the clock until `busy_o` falls (at most `max_cycles`); returns STATUS.
    pub fn wait_done(&mut self, max_cycles: u64) -> Result<u32, String> {
        let t0 = self.cycle;
        while self.busy() {
            self.step();
            if self.cycle - t0 > max_cycles {
                return Err(format!("P engine still busy after {max_cycles} cycles"));
            }
        }
        Ok(self.reg_read(pe::STATUS))
    }

    /// A generous cycle budget for a layer (for timeouts).
    pub fn budget(l: &PLayer) -> u64 {
        let slow = 100 / u64::from(Stalls::RANDOM.ready_percent.max(1)) + 3;
        slow * 4 * (l.entries.len() as u64 + 8 * l.row_len.len() as u64 + 64) + 10_000
    }

    /// Reads the output area back.
    pub fn output(&self, l: &PLayer, p: &PPlacement) -> Vec<u8> {
        let o = (p.output - RAM_BASE) as usize;
        self.mem[o..o + l.out_len()].to_vec()
    }

    /// Places, configures (with `N_IN = n_in`), runs and reads back one layer.
    pub fn run_with_n_in(&mut self, l: &PLayer, n_in: usize) -> Result<PRun, String> {
        self.bus.errors.clear();
        let p = self.place(l);
        self.configure(l, &p, n_in);
        self.start();
        let status = self.wait_done(Self::budget(l))?;
        let cycles = self.reg_read(pe::CYCLES);
        if !self.bus.errors.is_empty() {
            return Err(format!(
                "bus errors: {:?}",
                &self.bus.errors[..self.bus.errors.len().min(5)]
            ));
        }
        Ok(PRun {
            output: self.output(l, &p),
            status,
            cycles,
        })
    }

    /// Places, runs and reads back one layer (`N_IN` = the input length).
    pub fn run(&mut self, l: &PLayer) -> Result<PRun, String> {
        self.run_with_n_in(l, l.input.len())
    }
}

#[cfg(sim_no_verilator)]
impl PEngine {
    /// Unreachable without a model ([`PEngine::new`] fails).
    pub fn run(&mut self, _l: &PLayer) -> Result<PRun, String> {
        Err(crate::vl::MISSING.unwrap_or("no model").to_string())
    }
}
