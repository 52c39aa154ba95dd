//! [`AccelBackend`]: the RTL engines behind the [`Backend`] seam, with software fallback.
//!
//! Conv layers go to the NP conv engine (`regs::conv`), P dense layers to the P-layer engine
//! (`regs::pengine`), through the generated register constants only. The engines read the
//! weight, bias and requantisation arrays in place in the model blob and the activations in
//! the arena, and write their outputs there, so every slice handed over must lie in RAM
//! (`regs::RAM_BASE..+RAM_SIZE`). A layer runs in software ([`SoftwareBackend`]) when its
//! engine is absent (soc_core `EnableConv`/`EnablePengine` = 0: `SYS.ENGINE_WAIT` says which
//! exist), disabled at run time ([`AccelBackend::new`] `software_only`), or cannot take it
//! (kernel larger than `HWCFG.KMAX`, `k*k*cin` over the weight buffer, a dimension over
//! `DIM_MAX`, an array outside RAM). An NP dense layer whose P layer was set
//! ([`AccelBackend::set_dense_as_p`], [`crate::kernels::DenseAsP`]: the signed digits of its
//! `i8` weights over `D` copies of its input, built once per model) is that P layer, bias and
//! requantisation included: per image the CPU copies the input `D` times and the P engine does
//! the rest (the same bits, docs/numerics.md); without one it runs in the software NP kernel. A
//! P layer in software sums the rows of its input index from it, when one was set
//! ([`AccelBackend::set_p_index`], [`crate::kernels::PIndex`]), and walks its entry bytes
//! otherwise.
//!
//! Sequence per layer: write the pointer and size registers, CTRL.START, then read
//! `SYS.ENGINE_WAIT` (the bus stalls until the engine is idle, so the CPU fetches nothing and
//! the engine has the RAM to itself), then check STATUS: DONE must be set and ERR clear, else
//! [`AccelError::Engine`].
//!
//! The register accesses go through [`Bus`], so the driver logic is independent of the MMIO
//! implementation ([`Mmio`] on the SoC).

use crate::backend::{
    ArgsError, Backend, ConvArgs, DenseArgs, DenseOut, DensePArgs, SoftwareBackend,
};
use crate::kernels::{self, DenseAsP, PIndex};
use crate::regs::{self, conv, pengine, sys};
use core::fmt;

/// 32-bit register access.
pub trait Bus {
    /// Reads the register at byte address `addr`.
    fn read(&mut self, addr: u32) -> u32;
    /// Writes the register at byte address `addr`.
    fn write(&mut self, addr: u32, value: u32);
}

/// Volatile MMIO at the addresses given (the SoC's memory map).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mmio;

impl Bus for Mmio {
    fn read(&mut self, addr: u32) -> u32 {
        // SAFETY: only called with register addresses of `regs` (MMIO, word aligned); on the
        // SoC a read has no side effect other than ENGINE_WAIT's stall.
        unsafe { core::ptr::read_volatile(addr as usize as *const u32) }
    }
    fn write(&mut self, addr: u32, value: u32) {
        // SAFETY: only called with register addresses of `regs` (MMIO, word aligned).
        unsafe { core::ptr::write_volatile(addr as usize as *mut u32, value) }
    }
}

/// Which engine ran a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The NP conv engine.
    Conv,
    /// The P-layer engine.
    Pengine,
    /// The software kernels.
    Software,
}

impl Engine {
    /// Short name for transcripts: `conv`, `pengine`, `sw`.
    pub const fn name(self) -> &'static str {
        match self {
            Engine::Conv => "conv",
            Engine::Pengine => "pengine",
            Engine::Software => "sw",
        }
    }
}

/// Failures of [`AccelBackend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccelError {
    /// Inconsistent arguments (from the software kernels or the driver's checks).
    Args(ArgsError),
    /// An engine finished with STATUS.ERR set, or without DONE.
    Engine {
        /// Which engine.
        engine: Engine,
        /// Its STATUS register after the run.
        status: u32,
    },
}

impl fmt::Display for AccelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccelError::Args(e) => write!(f, "{e}"),
            AccelError::Engine { engine, status } => {
                write!(f, "{} engine failed, STATUS {status:#x}", engine.name())
            }
        }
    }
}

impl core::error::Error for AccelError {}

impl From<ArgsError> for AccelError {
    fn from(e: ArgsError) -> Self {
        AccelError::Args(e)
    }
}

/// Layers on the RTL engines where possible, else in software (see the module docs).
#[derive(Debug)]
pub struct AccelBackend<'t, B: Bus> {
    bus: B,
    conv: bool,
    pengine: bool,
    kmax: usize,
    wbuf: usize,
    /// Engine that ran the last layer.
    pub last: Engine,
    /// Clock cycles of the last engine run, from the SoC's `SYS.CYCLES` around START and
    /// the wait (0 for software).
    pub last_engine_cycles: u32,
    /// The conv engine's parameter table of the current layer ([`pack_conv_params`]).
    params: [u8; CONV_PARAMS_MAX],
    /// The input index of a P layer for the software kernel ([`AccelBackend::set_p_index`]).
    p_index: Option<PIndex<'t>>,
    /// An NP dense layer's P layer for the P engine ([`AccelBackend::set_dense_as_p`]): by
    /// reference, since taking a ~40-byte table out of its slot and back is two `memcpy`
    /// calls per image on the soft-core.
    dense_as_p: Option<&'t mut DenseAsP<'t>>,
    /// Remember engine runs for replay ([`AccelBackend::remember_runs`]).
    remember: bool,
    /// Remembered runs: `progs[..n_progs]`; `progs[n_progs]` records the run in progress.
    progs: [Prog; PROGS + 1],
    n_progs: usize,
    /// Bytes of `params` that remembered conv runs own (each keeps its own table).
    params_used: usize,
    /// Address of the input a `DenseAsP` table was just filled from, for the run being
    /// recorded (0: none).
    copy_src: usize,
}

/// Engine runs an [`AccelBackend`] remembers ([`AccelBackend::remember_runs`]): the paper
/// CNN's two conv layers, its P layer and its head.
const PROGS: usize = 4;
/// Words of a run's key.
const PROG_KEY: usize = 8;
/// Register writes of one run (the P engine's are 12, the conv engine's 13).
const PROG_REGS: usize = 14;

/// One engine run as register writes, and what they were derived from: every pointer, length
/// and shape the checks and the arithmetic looked at.
#[derive(Clone, Copy, Debug)]
struct Prog {
    key: [usize; PROG_KEY],
    /// The input the `DenseAsP` table's copies are made from before this run (0: none).
    copy_src: usize,
    engine: Engine,
    n: usize,
    regs: [(u32, u32); PROG_REGS],
}

const NO_PROG: Prog = Prog {
    key: [0; PROG_KEY],
    copy_src: 0,
    engine: Engine::Software,
    n: 0,
    regs: [(0, 0); PROG_REGS],
};

/// Bytes per output channel in the conv engine's parameter table (`CONV.PARAM_ADDR`): the
/// record layout is `regs::CONV_PARAM_*` (rtl/regmap/accel.toml), which conv_engine checks too.
pub const CONV_PARAM_BYTES: usize = regs::CONV_PARAM_BYTES;

/// Size of [`AccelBackend`]'s parameter table: room for `DIM_MAX` output channels.
pub const CONV_PARAMS_MAX: usize = CONV_PARAM_BYTES * regs::DIM_MAX;

/// Writes the conv engine's per-output-channel parameter table into `out` from the blob's
/// little-endian arrays (`bias_le`: i32 x n, `m_le`: u16 x n, `shift`: u8 x n): channel `c`'s
/// record is bytes `CONV_PARAM_BYTES * c..` holding the bias, the multiplier and the shift at
/// `regs::CONV_PARAM_{BIAS,MULT,SHIFT}_OFFSET` and a 0 pad byte (8 bytes: bias, multiplier,
/// shift, 0). Returns the table length; `None` when the array lengths disagree or `out` is
/// shorter than `CONV_PARAM_BYTES * n`.
pub fn pack_conv_params(
    bias_le: &[u8],
    m_le: &[u8],
    shift: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let n = shift.len();
    let len = n.checked_mul(CONV_PARAM_BYTES)?;
    if bias_le.len() != 4 * n || m_le.len() != 2 * n || out.len() < len {
        return None;
    }
    let rows = out[..len].chunks_exact_mut(CONV_PARAM_BYTES);
    let items = bias_le.chunks_exact(4).zip(m_le.chunks_exact(2)).zip(shift);
    const BIAS: usize = regs::CONV_PARAM_BIAS_OFFSET;
    const MULT: usize = regs::CONV_PARAM_MULT_OFFSET;
    const SHIFT: usize = regs::CONV_PARAM_SHIFT_OFFSET;
    const PAD: usize = SHIFT + 1;
    // the fields tile the record: every byte written, none twice
    const _: () =
        assert!(BIAS == 0 && BIAS + 4 == MULT && MULT + 2 == SHIFT && PAD + 1 == CONV_PARAM_BYTES);
    for (row, ((b, m), sh)) in rows.zip(items) {
        row[BIAS..BIAS + 4].copy_from_slice(b);
        row[MULT..MULT + 2].copy_from_slice(m);
        row[SHIFT] = *sh;
        row[PAD] = 0;
    }
    Some(len)
}

/// The conv engine's shape registers for a valid, stride-1 layer on an `ih x iw x cin` input
/// with `cout` output channels, a `k x k` kernel and optional 2x2 pooling, as `(offset,
/// value)` pairs: OH and OW (after pooling), CIN, COUT, K, FLAGS, ROW_STRIDE (`iw*cin`), KC
/// (`k*cin`), KKC (`k*k*cin`). `None` when a value does not fit its register or the output
/// is empty (the engine would reject it); the caller also checks KMAX and the weight buffer.
/// The one place the derived values are computed (firmware driver and the sim harness).
pub fn conv_shape_regs(
    ih: usize,
    iw: usize,
    cin: usize,
    cout: usize,
    k: usize,
    pool: bool,
) -> Option<[(u32, u32); 9]> {
    if k == 0 || ih < k || iw < k {
        return None;
    }
    use crate::numerics::conv_layer_out;
    let (oh, ow) = (conv_layer_out(ih, k, pool), conv_layer_out(iw, k, pool));
    let dim = |d: usize| (1..=regs::DIM_MAX).contains(&d).then_some(d as u32);
    let kc = k.checked_mul(cin)?;
    let kkc = kc.checked_mul(k)?;
    let row = iw.checked_mul(cin)?;
    let len = |d: usize| (d <= conv::KC_VALUE_MASK as usize).then_some(d as u32);
    Some([
        (conv::OH, dim(oh)?),
        (conv::OW, dim(ow)?),
        (conv::CIN, dim(cin)?),
        (conv::COUT, dim(cout)?),
        (conv::K, k as u32),
        (conv::FLAGS, u32::from(pool) << conv::FLAGS_POOL_SHIFT),
        (conv::ROW_STRIDE, u32::try_from(row).ok()?),
        (conv::KC, len(kc)?),
        (conv::KKC, len(kkc)?),
    ])
}

/// Address of a slice as the engines see it, if the whole slice lies in RAM.
fn ram_addr<T>(s: &[T]) -> Option<u32> {
    let a = s.as_ptr() as usize;
    let end = a.checked_add(core::mem::size_of_val(s))?;
    let (lo, hi) = (
        regs::RAM_BASE as usize,
        (regs::RAM_BASE + regs::RAM_SIZE) as usize,
    );
    (a >= lo && end <= hi).then_some(a as u32)
}

impl<'t, B: Bus> AccelBackend<'t, B> {
    /// Probes the engines: `SYS.ENGINE_WAIT` tells which exist, the conv engine's HWCFG its
    /// limits. With `software_only` every layer runs in software.
    pub fn new(mut bus: B, software_only: bool) -> Self {
        let present = bus.read(sys::BASE + sys::ENGINE_WAIT);
        let hw = bus.read(conv::BASE + conv::HWCFG);
        let field = |mask: u32, shift: u32| ((hw & mask) >> shift) as usize;
        let kmax = field(conv::HWCFG_KMAX_MASK, conv::HWCFG_KMAX_SHIFT);
        let lanes = field(conv::HWCFG_LANES_MASK, conv::HWCFG_LANES_SHIFT);
        let wbuf_log2 = field(conv::HWCFG_WBUF_LOG2_MASK, conv::HWCFG_WBUF_LOG2_SHIFT);
        let conv_ok = present & sys::ENGINE_WAIT_CONV_MASK != 0 && kmax > 0 && lanes > 0;
        AccelBackend {
            bus,
            conv: !software_only && conv_ok,
            pengine: !software_only && present & sys::ENGINE_WAIT_PENGINE_MASK != 0,
            kmax,
            wbuf: if wbuf_log2 < 31 { 1 << wbuf_log2 } else { 0 },
            last: Engine::Software,
            last_engine_cycles: 0,
            params: [0; CONV_PARAMS_MAX],
            p_index: None,
            dense_as_p: None,
            remember: false,
            progs: [NO_PROG; PROGS + 1],
            n_progs: 0,
            params_used: 0,
            copy_src: 0,
        }
    }

    /// Remember each engine run's register writes, keyed by the layer's pointers, lengths and
    /// shape, and replay them when the same layer runs again: a layer's checks, parameter
    /// packing and register arithmetic then run once per model, not once per image (on SERV,
    /// ~10 instructions per microsecond, they cost ~0.1 M cycles per conv layer). Only valid
    /// while what the key's pointers point to stays put and unchanged (the SoC firmware: one
    /// model and fixed buffers for its lifetime); off by default. Each remembered conv layer
    /// keeps its own parameter table; `PROGS` runs are kept, the oldest are not replaced, and
    /// a conv layer whose table no longer fits forgets them all and turns remembering off.
    pub fn remember_runs(&mut self, on: bool) {
        self.remember = on;
        self.n_progs = 0;
        self.params_used = 0;
    }

    /// The remembered run of `engine` with `key`, replayed (its writes, then START and wait).
    fn replay(
        &mut self,
        engine: Engine,
        key: &[usize; PROG_KEY],
    ) -> Option<Result<(), AccelError>> {
        // by reference, word by word: indexing would multiply by the record size and an array
        // `==` call a byte-wise memcmp, both calls on this CPU
        let p = self.progs[..self.n_progs]
            .iter()
            .find(|p| p.engine == engine && p.key.iter().zip(key).all(|(a, b)| a == b))?;
        for &(reg, v) in &p.regs[..p.n] {
            self.bus.write(reg, v);
        }
        Some(self.start_and_wait(engine))
    }

    /// Engine runs remembered so far, in the order they first ran.
    pub fn remembered(&self) -> usize {
        self.n_progs
    }

    /// Replays the `n` remembered runs in order, as the one inference that recorded them
    /// (its layers `0..n`, each one engine run): for each, the `DenseAsP` input copies it
    /// needs, its register writes, START and wait, then `done(i, cycles)` with run `i`'s clock
    /// cycles. This skips the runner and every per-layer check, which cost ~0.1 M cycles per
    /// image on SERV. `None` (nothing done) unless exactly `n` runs are remembered; on an
    /// engine error, the failing run's index.
    ///
    /// # Safety
    /// Everything the remembered runs were derived from is still in place and unchanged
    /// (the contract of [`AccelBackend::remember_runs`]), except the input bytes, and the
    /// input a `DenseAsP` copy was made from is still readable there: the runs read and
    /// write memory at their recorded addresses.
    pub unsafe fn replay_all(
        &mut self,
        n: usize,
        mut done: impl FnMut(usize, u32),
    ) -> Option<Result<(), (usize, AccelError)>> {
        if n == 0 || n != self.n_progs {
            return None;
        }
        let mut t0 = self.bus.read(sys::BASE + sys::CYCLES);
        for i in 0..n {
            let p = &self.progs[i];
            let engine = p.engine;
            if p.copy_src != 0 {
                if let Some(t) = self.dense_as_p.as_mut() {
                    // SAFETY: the table's input, `n_in` bytes at the address its recorded
                    // run copied from, still readable (this function's contract).
                    let input =
                        unsafe { core::slice::from_raw_parts(p.copy_src as *const u8, t.n_in()) };
                    t.copy_input(input);
                }
            }
            for &(reg, v) in &p.regs[..p.n] {
                self.bus.write(reg, v);
            }
            if let Err(e) = self.start_and_wait(engine) {
                return Some(Err((i, e)));
            }
            let t1 = self.bus.read(sys::BASE + sys::CYCLES);
            done(i, t1.wrapping_sub(t0));
            t0 = t1;
        }
        Some(Ok(()))
    }

    /// Starts recording a run of `engine` with `key` in the slot after the remembered runs
    /// ([`AccelBackend::finish`] keeps it if remembering and a slot is left).
    fn record_start(&mut self, engine: Engine, key: &[usize; PROG_KEY]) {
        let p = &mut self.progs[self.n_progs];
        p.engine = engine;
        p.copy_src = self.copy_src;
        p.key = *key;
        p.n = 0;
    }

    /// A register write, recorded in the run [`AccelBackend::record_start`] began.
    fn write(&mut self, reg: u32, v: u32) {
        self.bus.write(reg, v);
        let p = &mut self.progs[self.n_progs];
        if p.n < PROG_REGS {
            p.regs[p.n] = (reg, v);
        }
        p.n += 1;
    }

    /// START and wait; keeps the recorded run if it succeeded and fits.
    fn finish(&mut self, engine: Engine) -> Result<(), AccelError> {
        let r = self.start_and_wait(engine);
        let p = &self.progs[self.n_progs];
        if self.remember && r.is_ok() && p.n <= PROG_REGS && self.n_progs < PROGS {
            self.n_progs += 1;
        }
        r
    }

    /// Lets a P layer that runs in software sum the rows `index` covers from it
    /// ([`kernels::dense_p_indexed`]; used only for the layer it was built for). Build it once
    /// per model, after [`AccelBackend::new`] says the P engine is absent.
    pub fn set_p_index(&mut self, index: PIndex<'t>) {
        self.p_index = Some(index);
    }

    /// Lets the NP dense layer `table` was built for run as its P layer on the P engine (used
    /// only for that layer; one layer: the last table set). Build it once per model, when
    /// [`AccelBackend::new`] says the P engine is in use: without the engine that P layer runs
    /// in the software P kernel, exact but slower than the NP kernel.
    pub fn set_dense_as_p(&mut self, table: &'t mut DenseAsP<'t>) {
        self.dense_as_p = Some(table);
    }

    /// Whether the conv engine / P engine will be used.
    pub fn engines(&self) -> (bool, bool) {
        (self.conv, self.pengine)
    }

    /// START, wait for idle, check STATUS; returns the engine's CYCLES.
    fn start_and_wait(&mut self, engine: Engine) -> Result<(), AccelError> {
        // the engine reads what the CPU wrote before (activations) and writes what it reads
        // after: keep the compiler from moving memory accesses across the run
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        let (base, ctrl, status, done, err) = match engine {
            Engine::Conv => (
                conv::BASE,
                conv::CTRL,
                conv::STATUS,
                conv::STATUS_DONE_MASK,
                conv::STATUS_ERR_MASK,
            ),
            _ => (
                pengine::BASE,
                pengine::CTRL,
                pengine::STATUS,
                pengine::STATUS_DONE_MASK,
                pengine::STATUS_ERR_MASK,
            ),
        };
        let t0 = self.bus.read(sys::BASE + sys::CYCLES);
        self.bus.write(base + ctrl, 1);
        self.bus.read(sys::BASE + sys::ENGINE_WAIT);
        let t1 = self.bus.read(sys::BASE + sys::CYCLES);
        let st = self.bus.read(base + status);
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        self.last = engine;
        self.last_engine_cycles = t1.wrapping_sub(t0);
        if st & done == 0 || st & err != 0 {
            return Err(AccelError::Engine { engine, status: st });
        }
        Ok(())
    }

    fn try_conv(&mut self, a: &ConvArgs<'_>, out: &mut [u8]) -> Option<Result<(), AccelError>> {
        let s = a.in_shape;
        if !self.conv {
            return None;
        }
        // what the writes below are derived from (the parameter table's contents: bias, m and
        // shift, which sit next to the weights in the model)
        let key = [
            a.input.as_ptr() as usize,
            a.weights.as_ptr() as usize,
            a.bias.as_bytes().as_ptr() as usize,
            a.rq.m.as_bytes().as_ptr() as usize ^ (a.rq.shift.as_ptr() as usize) << 1,
            out.as_ptr() as usize,
            a.input.len() ^ a.weights.len() << 16,
            out.len() ^ a.bias.len() << 20,
            s.h | s.w << 8 | s.c << 16 | a.k << 24 | usize::from(a.pool) << 31,
        ];
        if let Some(r) = self.replay(Engine::Conv, &key) {
            return Some(r);
        }
        let shape = conv_shape_regs(s.h, s.w, s.c, a.cout, a.k, a.pool)?;
        let kkc = a.k * a.k * s.c; // conv_shape_regs checked it
        if a.k > self.kmax || kkc > self.wbuf {
            return None;
        }
        let os = a.out_shape()?;
        // same length checks as the software kernel, so a bad call fails the same way
        if a.input.len() != s.len()
            || a.weights.len() != kkc * a.cout
            || a.bias.len() != a.cout
            || out.len() != os.len()
        {
            return None;
        }
        // a remembered layer keeps its own parameter table: the next free part of `params`;
        // none left, the whole table is this run's, so every remembered run is forgotten (its
        // table is overwritten) and nothing more is remembered
        let need = a.cout * CONV_PARAM_BYTES;
        let at = if self.params_used + need <= CONV_PARAMS_MAX {
            self.params_used
        } else {
            self.remember_runs(false);
            0
        };
        let len = pack_conv_params(
            a.bias.as_bytes(),
            a.rq.m.as_bytes(),
            a.rq.shift,
            &mut self.params[at..],
        )?;
        let ptrs = [
            (conv::IN_ADDR, ram_addr(a.input)?),
            (conv::W_ADDR, ram_addr(a.weights)?),
            (conv::PARAM_ADDR, ram_addr(&self.params[at..at + len])?),
            (conv::OUT_ADDR, ram_addr(out)?),
        ];
        if self.remember {
            self.params_used = at + len;
        }
        self.record_start(Engine::Conv, &key);
        let b = conv::BASE;
        // two loops, not a chain: its iterator costs 0.15 KB of the soft-core's FW area
        for (reg, v) in ptrs {
            self.write(b + reg, v);
        }
        for (reg, v) in shape {
            self.write(b + reg, v);
        }
        Some(self.finish(Engine::Conv))
    }

    fn try_dense_p(
        &mut self,
        a: &DensePArgs<'_>,
        out: &mut DenseOut<'_>,
    ) -> Option<Result<(), AccelError>> {
        let n_in = a.input.len();
        if !self.pengine || n_in == 0 || n_in > 0xFFFF {
            return None;
        }
        let (n_out, out_addr, fin, rq) = match out {
            DenseOut::Act { rq, out } => (out.len(), ram_addr(out)?, false, Some(*rq)),
            DenseOut::Logits(l) => (l.len(), ram_addr(l)?, true, None),
        };
        let key = [
            a.input.as_ptr() as usize,
            a.entries.as_ptr() as usize,
            a.row_len.as_bytes().as_ptr() as usize,
            a.bias.as_bytes().as_ptr() as usize,
            out_addr as usize,
            rq.map_or(0, |r| {
                r.m.as_bytes().as_ptr() as usize ^ (r.shift.as_ptr() as usize) << 1
            }),
            n_in | usize::from(a.bits) << 16 | usize::from(fin) << 24,
            n_out ^ a.entries.len() << 16 ^ a.row_len.len() << 8 ^ a.bias.len() << 4,
        ];
        if let Some(r) = self.replay(Engine::Pengine, &key) {
            return Some(r);
        }
        if n_out == 0 || n_out > 0xFFFF || a.row_len.len() != n_out || a.bias.len() != n_out {
            return None;
        }
        let total: usize = a.row_len.iter().map(usize::from).sum();
        if total > a.entries.len() {
            return None;
        }
        let b = pengine::BASE;
        let rq_ptrs = match rq {
            Some(rq) if rq.m.len() != n_out || rq.shift.len() != n_out => return None,
            Some(rq) => Some((ram_addr(rq.m.as_bytes())?, ram_addr(rq.shift)?)),
            None => None,
        };
        let ptrs = [
            (pengine::IN_ADDR, ram_addr(a.input)?),
            (pengine::ENT_ADDR, ram_addr(a.entries)?),
            (pengine::LEN_ADDR, ram_addr(a.row_len.as_bytes())?),
            (pengine::BIAS_ADDR, ram_addr(a.bias.as_bytes())?),
            (pengine::OUT_ADDR, out_addr),
        ];
        self.record_start(Engine::Pengine, &key);
        if let Some((m, sh)) = rq_ptrs {
            self.write(b + pengine::MULT_ADDR, m);
            self.write(b + pengine::SHIFT_ADDR, sh);
        }
        for (reg, v) in ptrs {
            self.write(b + reg, v);
        }
        // packed u16 multipliers (M_LG = 1) and u8 shifts (SH_LG = 0), as in the blob
        self.write(b + pengine::RQ_STRIDE, 1 << pengine::RQ_STRIDE_M_LG_SHIFT);
        self.write(
            b + pengine::CFG,
            (u32::from(a.bits) << pengine::CFG_BITS_SHIFT)
                | (u32::from(fin) << pengine::CFG_FINAL_SHIFT),
        );
        self.write(b + pengine::N_OUT, n_out as u32);
        self.write(b + pengine::N_IN, n_in as u32);
        Some(self.finish(Engine::Pengine))
    }
}

impl<B: Bus> Backend for AccelBackend<'_, B> {
    type Error = AccelError;

    fn conv(&mut self, args: &ConvArgs<'_>, out: &mut [u8]) -> Result<(), AccelError> {
        if let Some(r) = self.try_conv(args, out) {
            return r;
        }
        self.last = Engine::Software;
        self.last_engine_cycles = 0;
        Ok(SoftwareBackend.conv(args, out)?)
    }

    fn dense(&mut self, args: &DenseArgs<'_>, out: DenseOut<'_>) -> Result<(), AccelError> {
        // with its P layer set, the layer is that P layer (`DenseAsP`): on the P engine (else
        // in software, like any P layer); the table goes back into its slot after
        if let Some(t) = self.dense_as_p.take() {
            if let Some(p) = t.p_layer(args) {
                self.copy_src = args.input.as_ptr() as usize;
                let r = self.dense_p(&p, out);
                self.copy_src = 0;
                self.dense_as_p = Some(t);
                return r;
            }
            self.dense_as_p = Some(t);
        }
        self.last = Engine::Software;
        self.last_engine_cycles = 0;
        Ok(SoftwareBackend.dense(args, out)?)
    }

    // called from `dense` too: one copy of the P engine driver (the FW area is nearly full)
    #[inline(never)]
    fn dense_p(&mut self, args: &DensePArgs<'_>, mut out: DenseOut<'_>) -> Result<(), AccelError> {
        if let Some(r) = self.try_dense_p(args, &mut out) {
            return r;
        }
        self.last = Engine::Software;
        self.last_engine_cycles = 0;
        Ok(kernels::dense_p_indexed(args, self.p_index.as_ref(), out)?)
    }
}
