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
//! `run cycles` is the whole inference (the layers and the firmware between them: the runner,
//! or the replay of the recorded engine runs): the `layer` lines are printed after it and their MACs counted then, so it is what a served request
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
    use firmware::numerics::{argmax, requantize, scale, Requant};
    use firmware::proto::{self, FrameReader, ProtoError, Step};
    use firmware::regs::sys::{UART_RX_FERR_MASK, UART_RX_OVERRUN_MASK, UART_RX_VALID_MASK};
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
        /// The input, arena and logits addresses of the inference whose engine runs `inner`
        /// remembered, one per layer ([`infer`] then replays them).
        plan: Option<[usize; 3]>,
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
    /// runner in the image), its result written into `info` in place. After one run whose
    /// layers each ran on an engine, the next ones with the same buffers replay those engine
    /// runs (`AccelBackend::replay_all`) instead of going through the runner.
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
        let bufs = [
            input.as_ptr() as usize,
            arena.as_ptr() as usize,
            logits.as_ptr() as usize,
        ];
        let n = model.n_layers();
        // compared word by word: `==` on the arrays is a `memcmp` call (~5 k cycles on SERV)
        let same = backend
            .plan
            .is_some_and(|p| p[0] == bufs[0] && p[1] == bufs[1] && p[2] == bufs[2]);
        if same {
            let cycles = |i, c: u32| info.set_layer_cycles(i, c.into());
            // SAFETY: the model and these buffers are those of the run that recorded the
            // engine runs (`plan`), and stay put for the firmware's lifetime (`main`).
            match unsafe { backend.inner.replay_all(n, cycles) } {
                Some(Ok(())) => {
                    info.class = argmax(logits).unwrap_or(0);
                    return Ok(());
                }
                Some(Err((layer, error))) => return Err(RunError::Backend { layer, error }),
                None => {}
            }
        }
        let before = backend.inner.remembered();
        let r = run_into(model, input, arena, backend, logits, report, info);
        // this run recorded every layer as one engine run, with these buffers: the next
        // inference with them replays those runs
        let recorded = before == 0 && backend.inner.remembered() == n;
        backend.plan = (r.is_ok() && recorded).then_some(bufs);
        r
    }

    /// The SoC's free-running 32-bit cycle counter (`SYS.CYCLES`), for the idle timeout.
    fn sys_cycles() -> u32 {
        word(CYCLES)
    }

    /// Words at the bottom of the STACK area that must never change: below them lies the
    /// INPUT area, which a deeper stack would overwrite (the last pixels of the image).
    const CANARY_WORDS: u32 = 16;
    const CANARY: u32 = 0x5AC3_A55A;

    /// Writes the canary ([`CANARY_WORDS`] at `STACK_ADDR`; the stack is far above them now).
    fn canary_set() {
        for i in 0..CANARY_WORDS {
            // SAFETY: STACK_ADDR.. + 64 bytes is RAM of the STACK area, word aligned.
            unsafe { core::ptr::write_volatile((STACK_ADDR + 4 * i) as *mut u32, CANARY) };
        }
    }

    /// Whether the canary is intact: the stack never reached the bottom of its area.
    fn canary_ok() -> bool {
        (0..CANARY_WORDS).all(|i| word(STACK_ADDR + 4 * i) == CANARY)
    }

    /// An error reply line without its newline: [`serve`] leaves the last reply's newline to
    /// [`receive`], so that the firmware is polling the UART before a client can answer.
    fn reply_error(uart: &mut Uart, e: ProtoError) {
        uart.s("error ").u32(e.code()).s(" ").s(e.name());
        if let Some((a, b)) = e.numbers() {
            uart.s(" ").u32(a).s(" ").u32(b);
        }
    }

    /// Receives one burst of bytes from the UART into `raw`, doing nothing else per byte (the
    /// board's SERV has ~25 instructions per byte at 230400 baud, too few to parse a frame as
    /// it arrives): until a whole frame has arrived at `raw`'s start (the magic, then 16 bytes
    /// of an info frame or 16 + `classify_len` of a classify frame), or, once something
    /// arrived, until the line has been idle for `timeout` cycles. Returns the bytes kept (a
    /// burst longer than `raw` loses its tail: the parser then reports that frame), the
    /// position of the first overrun or framing error in them, and whether the line went idle.
    fn receive(
        raw: &mut [u8],
        classify_len: usize,
        timeout: u32,
        newline: bool,
    ) -> (usize, Option<usize>, bool) {
        const ERR: u32 = UART_RX_OVERRUN_MASK | UART_RX_FERR_MASK;
        let overhead = proto::HEADER_LEN + proto::TRAILER_LEN;
        let start = raw.as_mut_ptr();
        let mut rx = Rx {
            p: start,
            end: start.wrapping_add(raw.len()),
            // a whole classify frame: the loop stops there
            check: start.wrapping_add(overhead + classify_len),
            // 16 bytes and then a quiet line: perhaps an info frame
            info_at: start.wrapping_add(overhead),
            seen: start,
            last: 0,
            any: 0,
            timeout,
            // the last reply's newline, written by the loop itself: a client answers a line
            // only once its newline has left, and the loop is polling by then
            newline: u32::from(newline),
        };
        let mut err = None;
        let n = |p: *mut u8| p as usize - start as usize;
        loop {
            // SAFETY: [start, end) is `raw`; rx_burst writes only at p < end.
            let v = unsafe { rx_burst(&mut rx) };
            rx.newline = 0;
            let got = n(rx.p);
            if v & ERR != 0 {
                // a lost byte: the frame in flight is lost (the byte read with it is dropped,
                // as the byte-at-a-time reader did)
                if err.is_none() {
                    err = Some(got);
                }
                rx.any = 1;
                rx.last = sys_cycles();
                continue;
            }
            let framed = raw.get(..4) == Some(&proto::MAGIC[..]);
            if v & UART_RX_VALID_MASK != 0 {
                // p reached `check`: a whole classify frame if it starts with the magic
                if framed {
                    return (got, err, false);
                }
            } else if rx.p == rx.info_at && rx.p != rx.check && rx.seen == rx.p && !rx.timed_out() {
                // quiet after 16 bytes
                if framed && raw.get(4) == Some(&proto::KIND_INFO) {
                    return (got, err, false);
                }
                rx.info_at = core::ptr::null_mut();
            } else {
                // the line was quiet for the idle timeout
                return (got, err, true);
            }
        }
    }

    /// The receive loop's state, shared with the assembly of [`rx_burst`] (field offsets are
    /// part of it: `#[repr(C)]`, eight words).
    #[repr(C)]
    struct Rx {
        /// Next free byte.
        p: *mut u8,
        /// End of the buffer: bytes beyond it are dropped.
        end: *mut u8,
        /// Stop when `p` reaches it (a whole classify frame).
        check: *mut u8,
        /// Stop when the line is quiet with `p` here (perhaps an info frame).
        info_at: *mut u8,
        /// `p` at the last quiet look.
        seen: *mut u8,
        /// `SYS.CYCLES` when bytes were last seen.
        last: u32,
        /// Non-zero once a byte or an error came: the idle timeout runs from then.
        any: u32,
        /// Idle timeout, cycles.
        timeout: u32,
        /// Non-zero: write a newline to the UART first (when its transmitter is free).
        newline: u32,
    }

    impl Rx {
        fn timed_out(&self) -> bool {
            self.any != 0 && sys_cycles().wrapping_sub(self.last) > self.timeout
        }
    }

    /// The loop of [`receive`] in assembly: stores every clean byte read from `SYS.UART_RX` at
    /// `rx.p` (while below `rx.end`) and returns the last word read when `p` reaches
    /// `rx.check`, a read has an error flag, the line has been quiet for `rx.timeout` cycles
    /// since the last byte (once a byte or an error came), or it is quiet with `p` at
    /// `rx.info_at`. A byte's path is a load, a flag test, a bounds test, a store and two
    /// branches (~0.46 k cycles on SERV, ~37 per ALU instruction, ~70 per branch, load or
    /// store; a byte lasts ~0.9 k at 230400 baud, and the holding register keeps one), and the
    /// idle timing runs every 16 empty polls without leaving the loop: compiled Rust spent
    /// ~0.8 k cycles a byte on register moves and ~1.3 k on a return to check the time, long
    /// enough to lose the second byte of a burst that began just then.
    ///
    /// # Safety
    /// `[rx.p, rx.end)` must be writable.
    // the assembly's flag mask and field offsets
    const _: () = assert!(UART_RX_VALID_MASK | UART_RX_OVERRUN_MASK | UART_RX_FERR_MASK == 0x700);
    const _: () = assert!(core::mem::size_of::<Rx>() == 36);
    #[inline(never)]
    unsafe fn rx_burst(rx: &mut Rx) -> u32 {
        let v: u32;
        // SAFETY: stores only at p < end (the caller's writable range); reads SYS.UART_RX and
        // SYS.CYCLES; reads and writes `rx` through its fields.
        unsafe {
            core::arch::asm!(
                // the pending newline: wait for the transmitter, then write it
                "lw {t}, 32({rx})",
                "beqz {t}, 2f",
                "6:",
                "lw {t}, 0({tx})",
                "andi {t}, {t}, 1",
                "bnez {t}, 6b",
                "li {t}, 10",
                "sw {t}, 0({tx})",
                "2:",
                "lw {p}, 0({rx})",
                "lw {end}, 4({rx})",
                "lw {check}, 8({rx})",
                "8:",
                "li {cnt}, 16",
                "3:",
                "lw {v}, 0({uart})",
                "andi {t}, {v}, 0x700",
                "beq {t}, {valid}, 4f",
                "bnez {t}, 9f",
                "addi {cnt}, {cnt}, -1",
                "bnez {cnt}, 3b",
                // 16 empty polls: bytes since the last look, or the idle timeout?
                "lw {t}, 16({rx})",
                "bne {p}, {t}, 7f",
                "lw {t}, 24({rx})",
                "beqz {t}, 8b",
                "lw {t}, 0({cyc})",
                "lw {cnt}, 20({rx})",
                "sub {t}, {t}, {cnt}",
                "lw {cnt}, 28({rx})",
                "bgeu {cnt}, {t}, 8b",
                "j 9f",
                "7:",
                "sw {p}, 16({rx})",
                "lw {t}, 0({cyc})",
                "sw {t}, 20({rx})",
                "li {t}, 1",
                "sw {t}, 24({rx})",
                "lw {t}, 12({rx})",
                "bne {p}, {t}, 8b",
                "j 9f",
                "4:",
                "bgeu {p}, {end}, 5f",
                "sb {v}, 0({p})",
                "addi {p}, {p}, 1",
                "5:",
                "bne {p}, {check}, 8b",
                "9:",
                "sw {p}, 0({rx})",
                rx = in(reg) rx as *mut Rx,
                uart = in(reg) UART_RX,
                tx = in(reg) UART_TX,
                cyc = in(reg) CYCLES,
                valid = in(reg) UART_RX_VALID_MASK,
                p = out(reg) _,
                end = out(reg) _,
                check = out(reg) _,
                v = out(reg) v,
                t = out(reg) _,
                cnt = out(reg) _,
                options(nostack),
            );
        }
        v
    }

    /// Serve mode: answers request frames (`firmware::proto`) forever, one at a time. Each
    /// burst is received raw into the arena ([`receive`]) and then parsed
    /// ([`FrameReader::push_bytes`]); bytes after a whole frame in the same burst are dropped
    /// (a client sends the next request after the reply). Every wait is bounded by the idle
    /// timeout except the wait for the next burst's first byte.
    fn serve(model: &Model<'_>, backend: &mut Traced<'_>, arena: &mut [u8]) -> ! {
        let mut uart = Uart;
        let s = model.input_shape();
        let n = s.len();
        // everything set up before the `serve` line: a client may send its first frame as
        // soon as it reads it, and SERV takes ~0.15 M cycles to initialise `info` alone
        // SAFETY: [INPUT_ADDR, +INPUT_MAX_LEN) is RAM reserved for the image (memmap.rs) and
        // n <= INPUT_MAX_LEN was checked by the caller.
        let input = unsafe { core::slice::from_raw_parts_mut(INPUT_ADDR as *mut u8, n) };
        let timeout = (firmware::regs::BOARD_CLOCK_HZ as u32 / 1000) * proto::IDLE_TIMEOUT_MS;
        let mut reader = FrameReader::new(n as u32);
        let mut logits = [0i32; MAX_CLASSES];
        let logits = &mut logits[..model.n_classes()];
        let mut report = Report {
            last: backend.last,
            engines: [Engine::Software; firmware::model::MAX_LAYERS],
        };
        let mut info = RunInfo::new();
        uart.s("serve ")
            .usize(s.h)
            .s("x")
            .usize(s.w)
            .s("x")
            .usize(s.c)
            .s(" bytes ")
            .usize(n);
        // a reply line waiting for its newline (see reply_error)
        let mut pending = true;
        loop {
            let (got, mut err_at, idle) = receive(arena, n, timeout, pending);
            pending = false;
            let raw = arena.get(..got).unwrap_or(&[]);
            let (mut pos, mut frame) = (0usize, None);
            while frame.is_none() && (pos < got || err_at.is_some()) {
                let step = match err_at {
                    Some(e) if e <= pos => {
                        err_at = None;
                        reader.line_error()
                    }
                    _ => {
                        let end = err_at.unwrap_or(got);
                        let (used, step) =
                            reader.push_bytes(raw.get(pos..end).unwrap_or(&[]), input);
                        pos += used;
                        step
                    }
                };
                match step {
                    Step::More => {}
                    Step::Error(e) => {
                        if pending {
                            uart.nl();
                        }
                        reply_error(&mut uart, e);
                        pending = true;
                    }
                    Step::Frame { kind, .. } => frame = Some(kind),
                }
            }
            if frame.is_none() && idle && reader.waiting_for_idle() {
                if let Step::Error(e) = reader.idle() {
                    if pending {
                        uart.nl();
                    }
                    reply_error(&mut uart, e);
                    pending = true;
                }
            }
            if frame.is_some() && pending {
                uart.nl();
            }
            match frame {
                None => {}
                Some(proto::KIND_INFO) => {
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
                    pending = true;
                }
                Some(_) => {
                    let t0 = cycles();
                    let r = infer(model, input, arena, backend, logits, &mut report, &mut info);
                    let t1 = cycles();
                    match r {
                        Ok(()) if canary_ok() => {
                            let name = model.class_name_bytes(info.class).unwrap_or(b"?");
                            uart.s("result class ").usize(info.class).s(" ").bytes(name);
                            uart.s(" logits");
                            for &l in logits.iter() {
                                uart.s(" ").i32(l);
                            }
                            uart.s(" cycles ").u64(t1.wrapping_sub(t0));
                        }
                        _ => {
                            uart.s(proto::RUN_ERROR_LINE);
                        }
                    }
                    pending = true;
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
        canary_set();
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
        // the backend holds the P engine's table by reference (see `set_dense_as_p`)
        let mut dense_as_p = None;
        let mut backend = Traced {
            inner: AccelBackend::new(Mmio, software_only),
            last: &last,
            plan: None,
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
                        backend.inner.set_dense_as_p(dense_as_p.insert(table));
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
        if r.is_ok() && !canary_ok() {
            uart.s("error: run: stack overflow into INPUT").nl();
            exit(code::RUN_FAILED);
        }
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
