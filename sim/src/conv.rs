//! Driver for the Verilated conv engine: a memory model on its bus master port (with
//! configurable wait states and random stalls), register accesses through its slave port, and
//! `run` = place a layer in memory, program the registers, start, wait, read the output back.
//!
//! ```no_run
//! use sim::{conv::Engine, layer::ConvLayer, rng::Rng};
//! let mut rng = Rng::new(1);
//! let layer = ConvLayer::random(&mut rng, 8, 8, 3, 5, 3, true);
//! let mut e = Engine::<sim::conv::DefaultModel>::new(7).unwrap();
//! let run = e.run(&layer).unwrap();
//! assert_eq!(run.output, layer.reference());
//! ```

use firmware::regs::{conv, RAM_BASE, RAM_SIZE};

use crate::layer::ConvLayer;
use crate::rng::Rng;

/// Port access shared by every Verilated build of `conv_engine` (any parameters).
pub trait EnginePorts: Send + Sized {
    /// The engine's `Lanes` parameter in this build.
    const LANES: usize;
    /// The engine's `WbufDepth` parameter in this build.
    const WBUF_DEPTH: usize;
    /// The engine's `KMax` parameter in this build.
    const KMAX: usize;
    /// Creates the model, or says why it cannot (Verilator missing at build time).
    fn create() -> Result<Self, String>;
    /// One clock period.
    fn tick(&mut self);
    /// Opens an FST trace.
    fn open_trace(&mut self, path: &std::path::Path) -> std::io::Result<()>;
    /// `rst_ni`.
    fn set_rst_ni(&mut self, v: u8);
    /// `reg_valid_i`, `reg_we_i`, `reg_addr_i`, `reg_wdata_i`.
    fn set_reg(&mut self, valid: bool, we: bool, addr: u16, wdata: u32);
    /// `(reg_ready_o, reg_rdata_o)`.
    fn reg_out(&self) -> (bool, u32);
    /// `(mem_valid_o, mem_addr_o, mem_wdata_o, mem_wstrb_o)`.
    fn mem_out(&self) -> (bool, u32, u32, u8);
    /// `mem_ready_i`, `mem_rdata_i`.
    fn set_mem(&mut self, ready: bool, rdata: u32);
    /// `busy_o`.
    fn busy(&self) -> bool;
}

macro_rules! impl_engine_ports {
    ($t:ident, $lanes:expr, $wbuf:expr, $kmax:expr) => {
        #[cfg(not(sim_no_verilator))]
        impl EnginePorts for crate::vl::$t {
            const LANES: usize = $lanes;
            const WBUF_DEPTH: usize = $wbuf;
            const KMAX: usize = $kmax;
            fn create() -> Result<Self, String> {
                Ok(Self::new())
            }
            fn tick(&mut self) {
                crate::vl::$t::tick(self)
            }
            fn open_trace(&mut self, path: &std::path::Path) -> std::io::Result<()> {
                crate::vl::$t::open_trace(self, path)
            }
            fn set_rst_ni(&mut self, v: u8) {
                crate::vl::$t::set_rst_ni(self, v)
            }
            fn set_reg(&mut self, valid: bool, we: bool, addr: u16, wdata: u32) {
                self.set_reg_valid_i(valid.into());
                self.set_reg_we_i(we.into());
                self.set_reg_addr_i(addr);
                self.set_reg_wdata_i(wdata);
            }
            fn reg_out(&self) -> (bool, u32) {
                (self.reg_ready_o() != 0, self.reg_rdata_o())
            }
            fn mem_out(&self) -> (bool, u32, u32, u8) {
                (
                    self.mem_valid_o() != 0,
                    self.mem_addr_o(),
                    self.mem_wdata_o(),
                    self.mem_wstrb_o(),
                )
            }
            fn set_mem(&mut self, ready: bool, rdata: u32) {
                self.set_mem_ready_i(ready.into());
                self.set_mem_rdata_i(rdata);
            }
            fn busy(&self) -> bool {
                self.busy_o() != 0
            }
        }
    };
}

// Parameters as passed in sim/build.rs (defaults come from the generated register map).
impl_engine_ports!(
    ConvEngineModel,
    firmware::regs::LANES,
    firmware::regs::WBUF_DEPTH,
    firmware::regs::KMAX
);
impl_engine_ports!(ConvEngineL8Model, 8, 256, 5);
impl_engine_ports!(
    ConvEngineBoardModel,
    firmware::regs::BOARD_CONV_LANES,
    firmware::regs::WBUF_DEPTH,
    firmware::regs::KMAX
);

/// Without Verilator there is no model; this type stands in so that code still compiles and
/// every attempt to create an engine fails with the setup hint.
#[cfg(sim_no_verilator)]
pub struct Missing;

#[cfg(sim_no_verilator)]
impl EnginePorts for Missing {
    const LANES: usize = firmware::regs::LANES;
    const WBUF_DEPTH: usize = firmware::regs::WBUF_DEPTH;
    const KMAX: usize = firmware::regs::KMAX;
    fn create() -> Result<Self, String> {
        Err(crate::vl::MISSING.unwrap_or("no model").to_string())
    }
    fn tick(&mut self) {}
    fn open_trace(&mut self, _: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }
    fn set_rst_ni(&mut self, _: u8) {}
    fn set_reg(&mut self, _: bool, _: bool, _: u16, _: u32) {}
    fn reg_out(&self) -> (bool, u32) {
        (false, 0)
    }
    fn mem_out(&self) -> (bool, u32, u32, u8) {
        (false, 0, 0, 0)
    }
    fn set_mem(&mut self, _: bool, _: u32) {}
    fn busy(&self) -> bool {
        false
    }
}

/// The default engine build (the shipped parameters).
#[cfg(not(sim_no_verilator))]
pub type DefaultModel = crate::vl::ConvEngineModel;
/// The default engine build (missing: Verilator was not found at build time).
#[cfg(sim_no_verilator)]
pub type DefaultModel = Missing;
/// The 8-lane test build.
#[cfg(not(sim_no_verilator))]
pub type L8Model = crate::vl::ConvEngineL8Model;
/// The 8-lane test build (missing: Verilator was not found at build time).
#[cfg(sim_no_verilator)]
pub type L8Model = Missing;

/// The iCEBreaker build (`BOARD_CONV_LANES` lanes, `BOARD_FETCH_FIFO_DEPTH`-entry fetch FIFO).
#[cfg(not(sim_no_verilator))]
pub type BoardModel = crate::vl::ConvEngineBoardModel;
/// The iCEBreaker build (missing: Verilator was not found at build time).
#[cfg(sim_no_verilator)]
pub type BoardModel = Missing;

/// Memory timing: `ready` comes at the earliest after `min_wait` wait cycles, and then in each
/// cycle with probability `ready_percent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stalls {
    /// Wait states before `ready` may be given.
    pub min_wait: u32,
    /// Chance (percent) of `ready` in each cycle after that.
    pub ready_percent: u32,
}

impl Stalls {
    /// The SoC's SPRAM/EBR: one wait state (ready is registered), 2 cycles per transfer.
    pub const SOC: Stalls = Stalls {
        min_wait: 1,
        ready_percent: 100,
    };
    /// A zero-wait memory (ready in the request cycle).
    pub const ZERO_WAIT: Stalls = Stalls {
        min_wait: 0,
        ready_percent: 100,
    };
    /// Random stalls: ready in each cycle with probability 30 %.
    pub const RANDOM: Stalls = Stalls {
        min_wait: 0,
        ready_percent: 30,
    };
}

/// Where a layer's arrays are placed in the memory model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Placement {
    /// Input activations.
    pub input: u32,
    /// Weights.
    pub weights: u32,
    /// Per-channel parameter table (bias, multiplier, shift: `firmware::accel::pack_conv_params`).
    pub params: u32,
    /// Output.
    pub output: u32,
}

/// Result of one layer on the RTL.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Output activations read back from memory.
    pub output: Vec<u8>,
    /// Cycles with `busy_o` high (START to DONE).
    pub cycles: u32,
    /// STATUS after the run.
    pub status: u32,
    /// Bus transfers (reads, writes).
    pub transfers: (u64, u64),
}

/// A Verilated conv engine with its memory.
pub struct Engine<M: EnginePorts> {
    m: M,
    /// Memory contents (the SoC's RAM region).
    pub mem: Vec<u8>,
    /// Address of `mem[0]`.
    pub mem_base: u32,
    /// Memory timing.
    pub stalls: Stalls,
    /// Place arrays at random byte offsets instead of 4-byte aligned ones.
    pub unaligned: bool,
    rng: Rng,
    waited: u32,
    /// Clock cycles since creation.
    pub cycle: u64,
    /// Clock cycles with `busy_o` high since creation (the engine has no cycle counter of its
    /// own: the SoC's firmware times it with `SYS.CYCLES`).
    pub busy_cycles: u64,
    reads: u64,
    writes: u64,
    write_window: Option<(u32, u32)>,
    /// Problems seen by the memory model (out-of-range or stray accesses).
    pub bus_errors: Vec<String>,
}

static TRACE_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The FST path for the next engine model opened in this process when `SIM_TRACE=path` is set:
/// `path` for the first (conv or P engine), then `path.1.fst`, `path.2.fst`, ... One counter
/// for both drivers, so engines built side by side (`engines::EngineBackend`) never share a file.
pub(crate) fn next_trace_path() -> Option<String> {
    let path = std::env::var("SIM_TRACE").ok()?;
    let n = TRACE_COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(if n == 0 {
        path
    } else {
        format!("{path}.{n}.fst")
    })
}

impl<M: EnginePorts> Engine<M> {
    /// A reset engine over the SoC's RAM (128 KiB at `RAM_BASE`); `seed` drives stalls and
    /// placement. If `SIM_TRACE=path` is set, the run is traced to `path` (further engines in
    /// the same process: `path.1.fst`, ...).
    pub fn new(seed: u64) -> Result<Self, String> {
        let mut m = M::create()?;
        if let Some(path) = next_trace_path() {
            m.open_trace(std::path::Path::new(&path))
                .map_err(|e| e.to_string())?;
        }
        let mut e = Engine {
            m,
            mem: vec![0; RAM_SIZE as usize],
            mem_base: RAM_BASE,
            stalls: Stalls::SOC,
            unaligned: false,
            rng: Rng::new(seed),
            waited: 0,
            cycle: 0,
            busy_cycles: 0,
            reads: 0,
            writes: 0,
            write_window: None,
            bus_errors: Vec::new(),
        };
        e.reset();
        Ok(e)
    }

    /// Direct access to the model (e.g. to open a trace).
    pub fn model(&mut self) -> &mut M {
        &mut self.m
    }

    /// Traces the model to an FST file from now on.
    pub fn open_trace(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        EnginePorts::open_trace(&mut self.m, path)
    }

    /// Holds `rst_ni` low for two cycles (the memory drops any transfer in progress).
    pub fn reset(&mut self) {
        self.m.set_reg(false, false, 0, 0);
        self.m.set_mem(false, 0);
        self.m.set_rst_ni(0);
        self.m.tick();
        self.m.tick();
        self.m.set_rst_ni(1);
        self.m.tick();
        self.waited = 0;
        self.cycle += 3;
    }

    fn offset(&self, addr: u32, len: u32) -> Option<usize> {
        let off = addr.checked_sub(self.mem_base)?;
        (u64::from(off) + u64::from(len) <= self.mem.len() as u64).then_some(off as usize)
    }

    /// One clock cycle: the memory answers the bus (or stalls), then the clock ticks.
    pub fn step(&mut self) {
        let (valid, addr, wdata, wstrb) = self.m.mem_out();
        let mut ready = false;
        let mut rdata = 0;
        if valid {
            ready =
                self.waited >= self.stalls.min_wait && self.rng.chance(self.stalls.ready_percent);
            self.waited += 1;
            if ready {
                self.waited = 0;
                if addr % 4 != 0 {
                    self.bus_errors
                        .push(format!("unaligned word address {addr:#x}"));
                }
                match self.offset(addr & !3, 4) {
                    None => self
                        .bus_errors
                        .push(format!("access outside memory at {addr:#x}")),
                    Some(o) if wstrb == 0 => {
                        rdata = u32::from_le_bytes(self.mem[o..o + 4].try_into().unwrap());
                        self.reads += 1;
                    }
                    Some(o) => {
                        self.writes += 1;
                        for b in 0..4 {
                            if wstrb >> b & 1 == 1 {
                                let a = (addr & !3) + b;
                                match self.write_window {
                                    Some((lo, hi)) if a >= lo && a < hi => {}
                                    _ => self.bus_errors.push(format!("stray write at {a:#x}")),
                                }
                                self.mem[o + b as usize] = (wdata >> (8 * b)) as u8;
                            }
                        }
                    }
                }
            }
        } else {
            self.waited = 0;
        }
        self.m.set_mem(ready, rdata);
        self.busy_cycles += u64::from(self.m.busy());
        self.m.tick();
        self.cycle += 1;
    }

    fn reg_access(&mut self, we: bool, off: u32, wdata: u32) -> u32 {
        self.m.set_reg(true, we, off as u16, wdata);
        let mut guard = 0;
        loop {
            self.step();
            let (ready, rdata) = self.m.reg_out();
            if ready {
                self.step(); // the access completes on this edge
                self.m.set_reg(false, false, 0, 0);
                return rdata;
            }
            guard += 1;
            assert!(guard < 100, "register slave never answered");
        }
    }

    /// Writes a register (byte offset within the CONV block).
    pub fn reg_write(&mut self, off: u32, v: u32) {
        self.reg_access(true, off, v);
    }

    /// Reads a register (byte offset within the CONV block).
    pub fn reg_read(&mut self, off: u32) -> u32 {
        self.reg_access(false, off, 0)
    }

    /// Copies a layer's arrays into memory (random gaps; aligned unless `self.unaligned`).
    pub fn place(&mut self, layer: &ConvLayer) -> Placement {
        let mut at = self.mem_base + self.rng.range(0, 64) as u32;
        let mut put = |rng: &mut Rng, mem: &mut Vec<u8>, data: &[u8], unaligned: bool| -> u32 {
            at += rng.range(0, 16) as u32;
            if !unaligned {
                at = (at + 3) & !3;
            }
            let a = at;
            let o = (a - RAM_BASE) as usize;
            assert!(
                o + data.len() <= mem.len(),
                "layer does not fit the 128 KiB RAM"
            );
            mem[o..o + data.len()].copy_from_slice(data);
            at += data.len() as u32;
            a
        };
        let u = self.unaligned;
        let w: Vec<u8> = layer.weights.iter().map(|&v| v as u8).collect();
        let b: Vec<u8> = layer.bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let m: Vec<u8> = layer.rq.iter().flat_map(|r| r.m.to_le_bytes()).collect();
        let s: Vec<u8> = layer.rq.iter().map(|r| r.shift).collect();
        let mut params = vec![0u8; s.len() * firmware::accel::CONV_PARAM_BYTES];
        firmware::accel::pack_conv_params(&b, &m, &s, &mut params)
            .expect("parameter arrays of one length");
        let garbage: Vec<u8> = (0..layer.out_len())
            .map(|_| self.rng.next_u64() as u8)
            .collect();
        let rng = &mut self.rng;
        let mem = &mut self.mem;
        Placement {
            input: put(rng, mem, &layer.input, u),
            weights: put(rng, mem, &w, u),
            params: put(rng, mem, &params, u),
            output: put(rng, mem, &garbage, u),
        }
    }

    /// Programs the configuration registers and writes START.
    pub fn start(&mut self, layer: &ConvLayer, p: &Placement) {
        self.configure(layer, p);
        self.reg_write(conv::CTRL, conv::CTRL_START_MASK);
    }

    /// Programs the configuration registers (pointers and `conv_shape_regs`), no START.
    pub fn configure(&mut self, layer: &ConvLayer, p: &Placement) {
        self.write_window = Some((p.output, p.output + layer.out_len() as u32));
        let ptrs = [
            (conv::IN_ADDR, p.input),
            (conv::W_ADDR, p.weights),
            (conv::PARAM_ADDR, p.params),
            (conv::OUT_ADDR, p.output),
        ];
        let shape = firmware::accel::conv_shape_regs(
            layer.ih, layer.iw, layer.cin, layer.cout, layer.k, layer.pool,
        )
        .expect("layer the engine's registers can hold (see supports)");
        for (off, v) in ptrs.into_iter().chain(shape) {
            self.reg_write(off, v);
        }
    }

    /// Runs the clock until `busy_o` falls (at most `max_cycles`); returns STATUS.
    pub fn wait_done(&mut self, max_cycles: u64) -> Result<u32, String> {
        let t0 = self.cycle;
        while self.m.busy() {
            self.step();
            if self.cycle - t0 > max_cycles {
                return Err(format!("engine still busy after {max_cycles} cycles"));
            }
        }
        Ok(self.reg_read(conv::STATUS))
    }

    /// A generous cycle budget for a layer (for timeouts).
    pub fn budget(layer: &ConvLayer) -> u64 {
        let groups = layer.cout.div_ceil(M::LANES) as u64;
        let (oh, ow) = layer.out_dims();
        let per_pixel = 30 * M::LANES as u64 + 40;
        let slow = 100 / u64::from(Stalls::RANDOM.ready_percent) + 2;
        slow * (layer.macs() / M::LANES as u64 * 3
            + groups * (oh * ow) as u64 * per_pixel
            + groups * 8 * (layer.k * layer.k * layer.cin * M::LANES) as u64)
            + 10_000
    }

    /// Places, runs and reads back one layer.
    pub fn run(&mut self, layer: &ConvLayer) -> Result<RunResult, String> {
        self.mem.fill(0);
        let p = self.place(layer);
        let (r0, w0) = (self.reads, self.writes);
        let b0 = self.busy_cycles;
        self.start(layer, &p);
        let status = self.wait_done(Self::budget(layer))?;
        let cycles = (self.busy_cycles - b0) as u32;
        if !self.bus_errors.is_empty() {
            return Err(format!(
                "bus errors: {:?}",
                &self.bus_errors[..self.bus_errors.len().min(5)]
            ));
        }
        let o = (p.output - self.mem_base) as usize;
        Ok(RunResult {
            output: self.mem[o..o + layer.out_len()].to_vec(),
            cycles,
            status,
            transfers: (self.reads - r0, self.writes - w0),
        })
    }
}

/// Something that computes a conv layer: the conformance suite runs every backend on the same
/// cases and compares with `numerics::conv2d`.
pub trait ConvBackend {
    /// Name for messages.
    fn name(&self) -> String;
    /// Whether the backend supports this shape (hardware limits).
    fn supports(&self, layer: &ConvLayer) -> bool;
    /// Output of the layer.
    fn conv(&mut self, layer: &ConvLayer) -> Vec<u8>;
}

/// The engine's algorithm in software ([`crate::model`]).
pub struct ModelBackend {
    /// Lanes (output channels per group).
    pub lanes: usize,
}

impl ConvBackend for ModelBackend {
    fn name(&self) -> String {
        format!("software model ({} lanes)", self.lanes)
    }
    fn supports(&self, _: &ConvLayer) -> bool {
        true
    }
    fn conv(&mut self, layer: &ConvLayer) -> Vec<u8> {
        crate::model::run(layer, self.lanes)
    }
}

/// The Verilated RTL. Panics (test failure) on timeouts, bus errors or a set STATUS.ERR.
pub struct RtlBackend<M: EnginePorts> {
    /// The engine.
    pub engine: Engine<M>,
    /// Cycles of the last run.
    pub last_cycles: u32,
}

impl<M: EnginePorts> RtlBackend<M> {
    /// A backend over a fresh engine; panics with the setup hint if Verilator is missing.
    pub fn new(seed: u64) -> Self {
        let engine = Engine::new(seed).unwrap_or_else(|e| panic!("{e}"));
        RtlBackend {
            engine,
            last_cycles: 0,
        }
    }
}

impl<M: EnginePorts> ConvBackend for RtlBackend<M> {
    fn name(&self) -> String {
        format!("RTL ({} lanes, {:?})", M::LANES, self.engine.stalls)
    }
    fn supports(&self, l: &ConvLayer) -> bool {
        l.k <= M::KMAX
            && l.k * l.k * l.cin <= M::WBUF_DEPTH
            && firmware::accel::conv_shape_regs(l.ih, l.iw, l.cin, l.cout, l.k, l.pool).is_some()
    }
    fn conv(&mut self, layer: &ConvLayer) -> Vec<u8> {
        let r = self
            .engine
            .run(layer)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name()));
        let expect = conv::STATUS_DONE_MASK;
        assert_eq!(r.status, expect, "{}: STATUS after the run", self.name());
        self.last_cycles = r.cycles;
        r.output
    }
}
