//! The cnnfpga soft-core firmware (SERV or PicoRV32, `riscv32i-unknown-none-elf`).
//!
//! Boot: the SoC's boot ROM copies this binary from flash (`FLASH_FW_ADDR`, after a 16-byte
//! header) to `FW_ADDR` in RAM and jumps there; `_start` sets `sp`, zeroes `.bss` and calls
//! `main`. `main` runs a multiply and requantisation self-test, copies the model blob (`FLASH_MODEL_ADDR`,
//! `total_len` bytes) and the input image (`FLASH_INPUT_ADDR`, `h*w*c` bytes) to RAM when the
//! flash holds a blob (else it uses RAM as a harness left it), builds a table in the rest of
//! the `MODEL` area once per model (the serve mode keeps it for every request): with the P
//! engine, the P layer of the first NP dense layer that fits (`firmware::kernels::DenseAsP`:
//! that layer then runs on the P engine), without it, the P layer's input index
//! (`firmware::kernels::PIndex`, for the software P layer), runs the model with
//! [`firmware::accel::AccelBackend`] (the engines the SoC has, their runs remembered and
//! replayed after one quiet warm-up run; every layer in software when the image header's flags
//! word has `FW_FLAG_SOFTWARE`), prints the transcript below over the UART
//! and writes the exit code to `SYS.EXIT`. With `FW_FLAG_SERVE` in the flags word (the board
//! build's default) it instead loads the model, prints the banner, the model, engine and
//! `pdigits`/`pindex` lines and `serve <h>x<w>x<c> bytes <n>`, and then answers request frames on the UART forever
//! (`firmware::proto`; docs/fpga.md): one reply line per frame, never an exit:
//!
//! ```text
//! result class <index> <name> logits <l0> <l1> ... cycles <n>
//! info input <h>x<w>x<c> classes <n> names <name0>,<name1>,...
//! error <code> <name> [<a> <b>]
//! ```
//!
//! Exit codes of the one-shot mode: the named constants of [`firmware::exit`], whose table is
//! the one list of them (the boot ROM's `BOOT_FAIL` included).
//!
//! Transcript (stable; `sim::soc` parses it, `sim/tests/expected/*.txt` pin it), one item per
//! line, numbers in decimal (a u64 that does not fit 32 bits in `0x` hex):
//!
//! ```text
//! cnnfpga firmware <version>
//! loaded model and image from flash
//! model <blob bytes> bytes, <n> layers, input <h>x<w>x<c>, <classes> classes
//! engines conv <0|1> pengine <0|1>
//! pdigits layer <i> rows <rows> of <rows> bytes <table bytes> cycles <build cycles>
//! pindex layer <i> rows <covered> of <rows> bytes <table bytes> cycles <build cycles>
//! layer <i> <conv|dense|dense_p> out <h>x<w>x<c> macs <n> on <conv|pengine|sw> cycles <n>
//! ...
//! class <index> <name>
//! logits <l0> <l1> ...
//! layers cycles <sum of layer cycles>
//! run cycles <n>
//! ```
//!
//! `run cycles` is the whole inference (the layers and the runner between them): the `layer`
//! lines are printed after it and their MACs counted then, so it is what a served request
//! costs (`result ... cycles`), and what images/s are counted from.
//!
//! The `pdigits` line appears when an NP dense layer runs on the P engine, the `pindex` line
//! when a P layer runs in software (at most one of them); the table's build comes before the
//! run and is in none of the run's cycle counts. Cycles: the SoC's free-running 32-bit `SYS.CYCLES` register, extended to 64 bits in
//! software. The board's CPU has no counter CSRs (SERV has none; PicoRV32 is built without them,
//! `BOARD_CPU_COUNTERS` = 0), so there is no `rdcycle` and no retired-instruction count here; the
//! simulation harness counts instructions itself (`sim::soc::SocRun::instret`). The UART writer prints through its own small integer formatters
//! (no `core::fmt` in the image).
//!
//! Build: `cargo build -p firmware --profile firmware --target riscv32i-unknown-none-elf
//! --features soc`. On any other target this file is a stub that says so.
#![cfg_attr(target_arch = "riscv32", no_std, no_main)]

#[cfg(not(target_arch = "riscv32"))]
fn main() {
    eprintln!(
        "the soc binary runs on the SoC's soft-core: build it with \
         `cargo build -p firmware --profile firmware --target riscv32i-unknown-none-elf --features soc`"
    );
    std::process::exit(2);
}

#[cfg(target_arch = "riscv32")]
mod soc {
    use core::cell::Cell;
    use core::fmt::Write;
    use core::ptr::{read_volatile, write_volatile};
    use core::sync::atomic::{AtomicU32, Ordering};
    use firmware::accel::{AccelBackend, AccelError, Engine, Mmio};
    use firmware::backend::{Backend, ConvArgs, DenseArgs, DenseOut, DensePArgs};
    use firmware::exit as code;
    use firmware::kernels::{DenseAsP, PIndex};
    use firmware::memmap::*;
    use firmware::model::{Layer, LayerKind, Model};
    use firmware::numerics::{requantize, scale, Requant};
    use firmware::proto::{self, FrameReader, ProtoError, Step};
    use firmware::regs::sys::{
        UART_RX_DATA_MASK, UART_RX_FERR_MASK, UART_RX_OVERRUN_MASK, UART_RX_VALID_MASK,
    };
    use firmware::runner::{run_into, LayerInfo, LayerOutput, Observer, RunError, RunInfo};

    core::arch::global_asm!(
        r#"
        .section .text.start, "ax"
        .globl _start
    _start:
        .option push
        .option norelax
        la sp, _stack_top
        .option pop
        la a1, _sbss
        la a2, _ebss
    3:  bgeu a1, a2, 4f
        sw zero, 0(a1)
        addi a1, a1, 4
        j 3b
    4:  call main
    5:  j 5b
    "#
    );

    /// compiler_builtins' `__mulsi3`, replaced: the board's CPU has no multiplier (SERV;
    /// PicoRV32 with `BOARD_CPU_MUL` = 0), so every 32-bit `*` of the firmware calls this
    /// ([`firmware::softmul`] says why not compiler_builtins' own, which is weak).
    #[cfg(not(target_feature = "m"))]
    #[no_mangle]
    extern "C" fn __mulsi3(a: u32, b: u32) -> u32 {
        firmware::softmul::mul32(a, b)
    }

    /// compiler_builtins' `__muldi3` (64-bit `*`), replaced like `__mulsi3`.
    #[cfg(not(target_feature = "m"))]
    #[no_mangle]
    extern "C" fn __muldi3(a: u64, b: u64) -> u64 {
        firmware::softmul::mul64(a, b)
    }

    /// Largest class count this build prints logits for.
    const MAX_CLASSES: usize = 64;

    /// The TX-only UART at `UART_TX`. It implements `core::fmt::Write`, but the firmware prints
    /// through the small methods below: `core::fmt` would cost about 5 KB of a 16 KB ROM.
    struct Uart;

    impl Uart {
        #[inline(never)]
        fn byte(&mut self, b: u8) -> &mut Self {
            // SAFETY: UART_TX is the SoC's UART data/status register (memmap.rs).
            unsafe {
                while read_volatile(UART_TX as *const u32) & 1 != 0 {}
                write_volatile(UART_TX as *mut u32, u32::from(b));
            }
            self
        }
        // not inlined: one copy of the loop instead of one per string printed (~1 KB of a
        // nearly full FW area); the UART's bit time dominates a byte's cost anyway
        #[inline(never)]
        fn s(&mut self, s: &str) -> &mut Self {
            self.bytes(s.as_bytes())
        }
        /// Bytes as they are (class names: UTF-8 checked by the model parser).
        #[inline(never)]
        fn bytes(&mut self, b: &[u8]) -> &mut Self {
            for &b in b {
                self.byte(b);
            }
            self
        }
        /// Decimal, by subtracting powers of ten: no division (the CPU has no divider, and
        /// the library's takes 0.35 KB of the FW area).
        fn u32(&mut self, mut v: u32) -> &mut Self {
            const POW10: [u32; 10] = [
                1_000_000_000,
                100_000_000,
                10_000_000,
                1_000_000,
                100_000,
                10_000,
                1_000,
                100,
                10,
                1,
            ];
            let mut lead = true;
            for &p in &POW10 {
                let mut d = b'0';
                while v >= p {
                    v -= p;
                    d += 1;
                }
                lead &= d == b'0' && p != 1;
                if !lead {
                    self.byte(d);
                }
            }
            self
        }
        /// Decimal when it fits 32 bits, else hex (no 64-bit division in ROM).
        fn u64(&mut self, v: u64) -> &mut Self {
            match u32::try_from(v) {
                Ok(v) => self.u32(v),
                Err(_) => {
                    self.s("0x");
                    for i in (0..16).rev() {
                        self.byte(b"0123456789abcdef"[((v >> (4 * i)) & 0xF) as usize]);
                    }
                    self
                }
            }
        }
        fn usize(&mut self, v: usize) -> &mut Self {
            self.u64(v as u64)
        }
        fn i32(&mut self, v: i32) -> &mut Self {
            if v < 0 {
                self.byte(b'-');
            }
            self.u32(v.unsigned_abs())
        }
        fn nl(&mut self) -> &mut Self {
            self.byte(b'\n')
        }
    }

    impl Write for Uart {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.s(s);
            Ok(())
        }
    }

    /// Ends a one-shot run with one of the [`firmware::exit`] codes.
    fn exit(code: u32) -> ! {
        // SAFETY: UART_TX and EXIT are the SoC's UART and exit/LED registers (memmap.rs).
        unsafe {
            // let the last byte leave the UART before the simulation stops
            while read_volatile(UART_TX as *const u32) & 1 != 0 {}
            write_volatile(EXIT as *mut u32, code);
        }
        loop {
            core::hint::spin_loop();
        }
    }

    /// The SoC's 32-bit `SYS.CYCLES` counter extended to 64 bits in software: `hi` counts the
    /// wraps seen between two calls, which is exact while calls come less than 2^32 cycles apart
    /// (197 s at the board's 21.75 MHz; the firmware reads it around every layer).
    fn cycles() -> u64 {
        static LAST: AtomicU32 = AtomicU32::new(0);
        static HI: AtomicU32 = AtomicU32::new(0);
        let lo = sys_cycles();
        if lo < LAST.load(Ordering::Relaxed) {
            HI.store(
                HI.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
        LAST.store(lo, Ordering::Relaxed);
        (u64::from(HI.load(Ordering::Relaxed)) << 32) | u64::from(lo)
    }

    /// [`AccelBackend`] that also tells the report which engine ran each layer.
    struct Traced<'a> {
        inner: AccelBackend<'a, Mmio>,
        last: &'a Cell<Engine>,
    }

    impl Backend for Traced<'_> {
        type Error = AccelError;
        fn conv(&mut self, args: &ConvArgs<'_>, out: &mut [u8]) -> Result<(), AccelError> {
            let r = self.inner.conv(args, out);
            self.last.set(self.inner.last);
            r
        }
        fn dense(&mut self, args: &DenseArgs<'_>, out: DenseOut<'_>) -> Result<(), AccelError> {
            let r = self.inner.dense(args, out);
            self.last.set(self.inner.last);
            r
        }
        fn dense_p(&mut self, args: &DensePArgs<'_>, out: DenseOut<'_>) -> Result<(), AccelError> {
            let r = self.inner.dense_p(args, out);
            self.last.set(self.inner.last);
            r
        }
    }

    /// Times the layers and notes which engine ran each; prints nothing during a run (the
    /// one-shot run's layer lines follow it, [`print_layers`]), and skips the per-image MAC
    /// count (a P layer's scans its entries: millions of cycles on a bit-serial CPU), so the
    /// timed inference is what a served request costs.
    struct Report<'a> {
        last: &'a Cell<Engine>,
        engines: [Engine; firmware::model::MAX_LAYERS],
    }

    impl Observer for Report<'_> {
        fn cycles(&mut self) -> Option<u64> {
            Some(cycles())
        }
        fn wants_macs(&self) -> bool {
            false
        }
        fn layer_done(&mut self, info: &LayerInfo, _output: LayerOutput<'_>) {
            if let Some(e) = self.engines.get_mut(info.index) {
                *e = self.last.get();
            }
        }
    }

    /// The one-shot run's `layer` lines, after the run: each layer's engine and cycles from
    /// `report` and `info`, its MACs counted here.
    fn print_layers(uart: &mut Uart, model: &Model<'_>, info: &RunInfo, report: &Report<'_>) {
        for li in info.layers() {
            let kind = match li.kind {
                LayerKind::Conv { .. } => "conv",
                LayerKind::Dense { .. } => "dense",
                LayerKind::DenseP { .. } => "dense_p",
            };
            let o = li.output;
            let macs = model.layer(li.index).map_or(0, |l| l.macs());
            let engine = report
                .engines
                .get(li.index)
                .copied()
                .unwrap_or(Engine::Software);
            uart.s("layer ")
                .usize(li.index)
                .s(" ")
                .s(kind)
                .s(" out ")
                .usize(o.h)
                .s("x")
                .usize(o.w)
                .s("x")
                .usize(o.c)
                .s(" macs ")
                .u64(macs)
                .s(" on ")
                .s(engine.name())
                .s(" cycles ")
                .u64(li.cycles.unwrap_or(0))
                .nl();
        }
    }

    /// `scale` evaluated by rustc's const evaluator, not by LLVM: an independent oracle for
    /// the RV32IM codegen hazard described in docs/numerics.md.
    const fn scale_const(acc: i32, m: u16, shift: u8) -> i64 {
        ((acc as i64) * (m as i64) + (1i64 << (shift - 1))) >> shift
    }

    const SELFTEST: [(i32, u16, u8); 10] = [
        (3, 1 << 14, 15),
        (-3, 1 << 14, 15),
        (509, 1 << 14, 15),
        (507, 1 << 14, 15),
        (i32::MAX, 32767, 1),
        (i32::MIN, 32767, 1),
        (i32::MAX, 1, 47),
        (i32::MIN, 1, 47),
        (123_456, 20_000, 24),
        (-98_765, 31_000, 20),
    ];

    const EXPECTED: [i64; 10] = {
        let mut e = [0i64; 10];
        let mut i = 0;
        while i < SELFTEST.len() {
            let (a, m, s) = SELFTEST[i];
            e[i] = scale_const(a, m, s);
            i += 1;
        }
        e
    };

    /// 32-bit products for the self-test: `(a, b, a * b)`, the product by rustc's const
    /// evaluator. With `BOARD_CPU_MUL` = 0 the firmware's `*` calls `firmware::softmul`: both
    /// operand orders, signs, zero and wrap-around.
    const MUL_SELFTEST: [(u32, u32, u32); 8] = {
        let ab: [(u32, u32); 8] = [
            (0xffff_ff80, 255),
            (255, 0xffff_ff80),
            (0xffff_fff9, 0xffff_fff7),
            (0x8000_0000, 0xffff_ffff),
            (123_456_789, 987_654_321),
            (65_535, 65_537),
            (0, 0xdead_beef),
            (0x7fff_ffff, 3),
        ];
        let mut t = [(0u32, 0u32, 0u32); 8];
        let mut i = 0;
        while i < ab.len() {
            t[i] = (ab[i].0, ab[i].1, ab[i].0.wrapping_mul(ab[i].1));
            i += 1;
        }
        t
    };

    fn selftest() -> bool {
        let mut ok = true;
        for &(a, b, want) in &MUL_SELFTEST {
            ok &= core::hint::black_box(a).wrapping_mul(core::hint::black_box(b)) == want;
        }
        for (&(acc, m, shift), &want) in SELFTEST.iter().zip(EXPECTED.iter()) {
            let acc = core::hint::black_box(acc);
            let rq = core::hint::black_box(Requant { m, shift });
            ok &= scale(acc, rq) == want;
            ok &= requantize(acc, rq) == want.clamp(0, 255) as u8;
        }
        ok
    }

    /// Copies `len` bytes (rounded up to words) from the flash window to RAM: ascending word
    /// loads only, as the SoC's flash reader (`soc_flash`) streams them.
    ///
    /// # Safety
    /// `src` must be in the flash window and `dst..dst+len` RAM that nothing else uses.
    unsafe fn copy_words(src: u32, dst: u32, len: u32) {
        let (src, dst) = (src as *const u32, dst as *mut u32);
        for i in 0..len.div_ceil(4) as usize {
            // SAFETY: the caller guarantees both ranges.
            unsafe { write_volatile(dst.add(i), read_volatile(src.add(i))) };
        }
    }

    /// Reads the word at `addr` (flash or RAM).
    fn word(addr: u32) -> u32 {
        // SAFETY: only called with word-aligned flash window / RAM addresses.
        unsafe { read_volatile(addr as *const u32) }
    }

    /// Copies the blob from flash to `MODEL_ADDR` if the flash holds one (`Ok(true)`), using
    /// the length in its header; `Err(len)` when it does not fit.
    fn load_model() -> Result<bool, u32> {
        if word(FLASH_MODEL_ADDR) != u32::from_le_bytes(firmware::model::MAGIC) {
            return Ok(false);
        }
        let len = word(FLASH_MODEL_ADDR + 8);
        if len > MODEL_MAX_LEN {
            return Err(len);
        }
        // SAFETY: FLASH_MODEL is in the flash window; MODEL is RAM reserved for the blob.
        unsafe { copy_words(FLASH_MODEL_ADDR, MODEL_ADDR, len) };
        Ok(true)
    }

    /// The `pindex` / `pdigits` line: a table built at start-up for `layer`, with its rows,
    /// size and build time (since `t0`).
    #[inline(never)]
    fn table_line(name: &str, layer: &Layer<'_>, rows: usize, bytes: usize, t0: u64) {
        let t1 = cycles();
        Uart.s(name)
            .s(" layer ")
            .usize(layer.index)
            .s(" rows ")
            .usize(rows)
            .s(" of ")
            .usize(layer.output.c)
            .s(" bytes ")
            .usize(bytes)
            .s(" cycles ")
            .u64(t1.wrapping_sub(t0))
            .nl();
    }

    /// One inference, shared by the one-shot and the serve mode (not inlined: one copy of the
    /// runner in the image), its result written into `info` in place.
    #[inline(never)]
    fn infer(
        model: &Model<'_>,
        input: &[u8],
        arena: &mut [u8],
        backend: &mut Traced<'_>,
        logits: &mut [i32],
        report: &mut Report<'_>,
        info: &mut RunInfo,
    ) -> Result<(), RunError<AccelError>> {
        run_into(model, input, arena, backend, logits, report, info)
    }

    /// The SoC's free-running 32-bit cycle counter (`SYS.CYCLES`), for the idle timeout.
    fn sys_cycles() -> u32 {
        word(CYCLES)
    }

    fn reply_error(uart: &mut Uart, e: ProtoError) {
        uart.s("error ").u32(e.code()).s(" ").s(e.name());
        if let Some((a, b)) = e.numbers() {
            uart.s(" ").u32(a).s(" ").u32(b);
        }
        uart.nl();
    }

    /// Serve mode: answers request frames (`firmware::proto`) forever. Every wait is bounded by
    /// the idle timeout except the wait for the next frame's first byte.
    fn serve(model: &Model<'_>, backend: &mut Traced<'_>, arena: &mut [u8]) -> ! {
        let mut uart = Uart;
        let s = model.input_shape();
        let n = s.len();
        uart.s("serve ")
            .usize(s.h)
            .s("x")
            .usize(s.w)
            .s("x")
            .usize(s.c)
            .s(" bytes ")
            .usize(n)
            .nl();
        // SAFETY: [INPUT_ADDR, +INPUT_MAX_LEN) is RAM reserved for the image (memmap.rs) and
        // n <= INPUT_MAX_LEN was checked by the caller.
        let input = unsafe { core::slice::from_raw_parts_mut(INPUT_ADDR as *mut u8, n) };
        let timeout = (firmware::regs::BOARD_CLOCK_HZ as u32 / 1000) * proto::IDLE_TIMEOUT_MS;
        let mut reader = FrameReader::new(n as u32);
        let mut last = sys_cycles();
        let mut logits = [0i32; MAX_CLASSES];
        let logits = &mut logits[..model.n_classes()];
        let mut report = Report {
            last: backend.last,
            engines: [Engine::Software; firmware::model::MAX_LAYERS],
        };
        let mut info = RunInfo::new();
        loop {
            let v = word(UART_RX);
            let step = if v & (UART_RX_OVERRUN_MASK | UART_RX_FERR_MASK) != 0 {
                last = sys_cycles();
                reader.line_error()
            } else if v & UART_RX_VALID_MASK != 0 {
                last = sys_cycles();
                reader.push((v & UART_RX_DATA_MASK) as u8, input)
            } else if reader.waiting_for_idle() && sys_cycles().wrapping_sub(last) > timeout {
                last = sys_cycles();
                reader.idle()
            } else {
                continue;
            };
            match step {
                Step::More => {}
                Step::Error(e) => reply_error(&mut uart, e),
                Step::Frame { kind, .. } if kind == proto::KIND_INFO => {
                    uart.s("info input ")
                        .usize(s.h)
                        .s("x")
                        .usize(s.w)
                        .s("x")
                        .usize(s.c)
                        .s(" classes ")
                        .usize(model.n_classes())
                        .s(" names ");
                    for i in 0..model.n_classes() {
                        if i > 0 {
                            uart.s(",");
                        }
                        uart.bytes(model.class_name_bytes(i).unwrap_or(b"?"));
                    }
                    uart.nl();
                }
                Step::Frame { .. } => {
                    let t0 = cycles();
                    match infer(model, input, arena, backend, logits, &mut report, &mut info) {
                        Ok(()) => {
                            let t1 = cycles();
                            let name = model.class_name_bytes(info.class).unwrap_or(b"?");
                            uart.s("result class ").usize(info.class).s(" ").bytes(name);
                            uart.s(" logits");
                            for &l in logits.iter() {
                                uart.s(" ").i32(l);
                            }
                            uart.s(" cycles ").u64(t1.wrapping_sub(t0)).nl();
                        }
                        Err(_) => {
                            uart.s(proto::RUN_ERROR_LINE).nl();
                        }
                    }
                    last = sys_cycles();
                }
            }
        }
    }

    #[no_mangle]
    extern "C" fn main() -> ! {
        let mut uart = Uart;
        uart.s("cnnfpga firmware ")
            .s(env!("CARGO_PKG_VERSION"))
            .nl();
        if !selftest() {
            uart.s("error: multiply or requant selftest").nl();
            exit(code::SELFTEST_FAILED);
        }
        let from_flash = match load_model() {
            Ok(f) => f,
            Err(len) => {
                uart.s("error: blob of ")
                    .u32(len)
                    .s(" bytes too large")
                    .nl();
                exit(code::TOO_LARGE);
            }
        };
        if from_flash {
            uart.s("loaded model and image from flash").nl();
        }
        // SAFETY: [MODEL_ADDR, +MODEL_MAX_LEN) is RAM reserved for the blob (memmap.rs), filled
        // before reset; the model keeps only the blob's bytes (`Model::blob`, a prefix), and
        // this program writes only after them (`spare` below), never through `region`.
        let region =
            unsafe { core::slice::from_raw_parts(MODEL_ADDR as *const u8, MODEL_MAX_LEN as usize) };
        let model = match Model::parse_prefix(region) {
            Ok(m) => m,
            Err(e) => {
                // the code is FormatError::code (docs/model-format.md lists them)
                uart.s("error: model ").u32(e.code().into()).nl();
                exit(code::MODEL_REJECTED);
            }
        };
        // the rest of the MODEL area, after the blob (a multiple of 4 bytes long): the NP
        // dense layers' P rows when the P engine is in use, else the P layer's input index
        // (below)
        let used = model.blob().len();
        // SAFETY: [MODEL_ADDR + used, MODEL_ADDR + MODEL_MAX_LEN) is the part of the MODEL area
        // after the blob (used <= MODEL_MAX_LEN, 4-aligned), which nothing else reads or writes
        // (only one of the two uses below views it).
        let spare = unsafe {
            core::slice::from_raw_parts_mut(
                (MODEL_ADDR as usize + used) as *mut u8,
                MODEL_MAX_LEN as usize - used,
            )
        };
        let s = model.input_shape();
        uart.s("model ")
            .usize(model.blob().len())
            .s(" bytes, ")
            .usize(model.n_layers())
            .s(" layers, input ")
            .usize(s.h)
            .s("x")
            .usize(s.w)
            .s("x")
            .usize(s.c)
            .s(", ")
            .usize(model.n_classes())
            .s(" classes")
            .nl();
        if s.len() > INPUT_MAX_LEN as usize || model.n_classes() > MAX_CLASSES {
            uart.s("error: input or class count too large for this build")
                .nl();
            exit(code::TOO_LARGE);
        }
        let flags = word(FW_FLAGS_ADDR);
        let serving = flags & FW_FLAG_SERVE != 0;
        if from_flash && !serving {
            // SAFETY: FLASH_INPUT is in the flash window; INPUT is RAM reserved for the image
            // and s.len() <= INPUT_MAX_LEN was checked above.
            unsafe { copy_words(FLASH_INPUT_ADDR, INPUT_ADDR, s.len() as u32) };
        }
        let software_only = flags & FW_FLAG_SOFTWARE != 0;
        let last = Cell::new(Engine::Software);
        let mut backend = Traced {
            inner: AccelBackend::new(Mmio, software_only),
            last: &last,
        };
        let (conv_on, pe_on) = backend.inner.engines();
        uart.s("engines conv ")
            .u32(conv_on.into())
            .s(" pengine ")
            .u32(pe_on.into())
            .nl();
        // once per model, in `spare`: with the P engine, the P layer of the first NP dense
        // layer whose table fits (the other NP dense layers run in software); without it, the
        // first P layer's input index (as u16)
        let mut store = spare;
        for layer in model.layers() {
            let t0 = cycles();
            if pe_on {
                match DenseAsP::for_layer(&layer, store) {
                    Ok((table, _)) => {
                        table_line("pdigits", &layer, layer.output.c, table.bytes(), t0);
                        backend.inner.set_dense_as_p(table);
                        break;
                    }
                    Err(back) => store = back,
                }
            } else if matches!(layer.kind, LayerKind::DenseP { .. }) {
                // SAFETY: `store` (all of `spare`) starts 4-aligned; the u16 view covers its
                // first half-words and is its only use from here on.
                let words = unsafe {
                    core::slice::from_raw_parts_mut(
                        store.as_mut_ptr().cast::<u16>(),
                        store.len() / 2,
                    )
                };
                if let Some(index) = PIndex::for_layer(&layer, words) {
                    table_line("pindex", &layer, index.rows(), 2 * index.words(), t0);
                    backend.inner.set_p_index(index);
                }
                break;
            }
        }
        // every engine run's register writes are recorded on its first run and replayed after
        // (the model and the buffers stay put from here on)
        backend.inner.remember_runs(true);
        // SAFETY: [ARENA_ADDR, +ARENA_LEN) is RAM used by nothing else (the linker keeps
        // .data/.bss below it; the stack starts above the input region).
        let arena =
            unsafe { core::slice::from_raw_parts_mut(ARENA_ADDR as *mut u8, ARENA_LEN as usize) };
        if serving {
            serve(&model, &mut backend, arena);
        }
        // SAFETY: [INPUT_ADDR, +INPUT_MAX_LEN) is RAM reserved for the image (memmap.rs).
        let input = unsafe { core::slice::from_raw_parts(INPUT_ADDR as *const u8, s.len()) };
        let mut logits = [0i32; MAX_CLASSES];
        let logits = &mut logits[..model.n_classes()];
        let mut report = Report {
            last: &last,
            engines: [Engine::Software; firmware::model::MAX_LAYERS],
        };
        let mut info = RunInfo::new();
        // with an engine, a warm-up run records the engine runs: the timed run below is an
        // image in steady state, as is every request after the first in serve mode
        // (docs/performance.md); software-only there is nothing to record
        if conv_on || pe_on {
            let _ = infer(
                &model,
                input,
                arena,
                &mut backend,
                logits,
                &mut report,
                &mut info,
            );
        }
        let t0 = cycles();
        let r = infer(
            &model,
            input,
            arena,
            &mut backend,
            logits,
            &mut report,
            &mut info,
        );
        let t1 = cycles();
        if let Err(e) = r {
            uart.s("error: run: ");
            match e {
                RunError::ArenaTooSmall { need, .. } => {
                    uart.s("arena too small, need ").usize(need);
                }
                RunError::Backend {
                    layer,
                    error: AccelError::Engine { engine, status },
                } => {
                    uart.s("layer ")
                        .usize(layer)
                        .s(" ")
                        .s(engine.name())
                        .s(" engine status ")
                        .u32(status);
                }
                RunError::Backend { layer, .. } => {
                    uart.s("layer ").usize(layer).s(" arguments");
                }
                _ => {
                    uart.s("internal");
                }
            }
            uart.nl();
            exit(code::RUN_FAILED);
        }
        print_layers(&mut uart, &model, &info, &report);
        let name = model.class_name_bytes(info.class).unwrap_or(b"?");
        uart.s("class ").usize(info.class).s(" ").bytes(name).nl();
        uart.s("logits");
        for &l in logits.iter() {
            uart.s(" ").i32(l);
        }
        uart.nl();
        uart.s("layers cycles ")
            .u64(info.total_cycles().unwrap_or(0))
            .nl();
        uart.s("run cycles ").u64(t1.wrapping_sub(t0)).nl();
        exit(code::OK);
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        Uart.s("PANIC\n");
        exit(code::PANIC);
    }
}
