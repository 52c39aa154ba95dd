//! The cnnfpga soft-core firmware (PicoRV32, `riscv32imc-unknown-none-elf`).
//!
//! Boot: `_start` sets `sp`, copies `.data`, zeroes `.bss` and calls `main`. `main` runs a
//! requantisation self-test, copies blob + image from SPI flash to RAM if the flash holds a
//! blob (`memmap::FLASH_MODEL`), parses the model blob at `memmap::MODEL_ADDR`, runs it on the
//! image at `memmap::INPUT_ADDR` with the software backend, prints the result over the UART
//! and writes the exit code to `memmap::EXIT`:
//!
//! | code | meaning                                              |
//! |------|------------------------------------------------------|
//! | 0    | inference done                                       |
//! | 1    | model blob rejected (the error is printed)           |
//! | 2    | input image or class count larger than this build supports |
//! | 3    | inference failed (the error is printed)              |
//! | 4    | requantisation self-test failed (codegen bug)        |
//! | 255  | panic (a bug: nothing here should panic)             |
//!
//! Counters: `rdcycle[h]` / `rdinstret[h]` CSRs (PicoRV32 with `ENABLE_COUNTERS=1` and
//! `ENABLE_COUNTERS64=1`). The UART writer implements `core::fmt::Write` but prints through
//! its own small integer formatters (no `core::fmt` in the ROM).
//!
//! Build: `cargo build -p firmware --profile firmware --target riscv32imc-unknown-none-elf
//! --features soc`. On any other target this file is a stub that says so.
#![cfg_attr(target_arch = "riscv32", no_std, no_main)]

#[cfg(not(target_arch = "riscv32"))]
fn main() {
    eprintln!(
        "the soc binary runs on the PicoRV32 soft-core: build it with \
         `cargo build -p firmware --profile firmware --target riscv32imc-unknown-none-elf --features soc`"
    );
    std::process::exit(2);
}

#[cfg(target_arch = "riscv32")]
mod soc {
    use core::fmt::Write;
    use core::ptr::{read_volatile, write_volatile};
    use firmware::backend::SoftwareBackend;
    use firmware::memmap::*;
    use firmware::model::{LayerKind, Model};
    use firmware::numerics::{requantize, scale, Requant};
    use firmware::runner::{run, LayerInfo, LayerOutput, Observer, RunError};

    core::arch::global_asm!(
        r#"
        .section .text.start, "ax"
        .globl _start
    _start:
        .option push
        .option norelax
        la sp, _stack_top
        .option pop
        la a0, _sidata
        la a1, _sdata
        la a2, _edata
    1:  bgeu a1, a2, 2f
        lw t0, 0(a0)
        sw t0, 0(a1)
        addi a0, a0, 4
        addi a1, a1, 4
        j 1b
    2:  la a1, _sbss
        la a2, _ebss
    3:  bgeu a1, a2, 4f
        sw zero, 0(a1)
        addi a1, a1, 4
        j 3b
    4:  call main
    5:  j 5b
    "#
    );

    /// Largest class count this build prints logits for.
    const MAX_CLASSES: usize = 64;

    /// The TX-only UART at `UART_TX`. It implements `core::fmt::Write`, but the firmware prints
    /// through the small methods below: `core::fmt` would cost about 5 KB of a 16 KB ROM.
    struct Uart;

    impl Uart {
        fn byte(&mut self, b: u8) -> &mut Self {
            // SAFETY: UART_TX is the SoC's UART data/status register (memmap.rs).
            unsafe {
                while read_volatile(UART_TX as *const u32) & 1 != 0 {}
                write_volatile(UART_TX as *mut u32, u32::from(b));
            }
            self
        }
        fn s(&mut self, s: &str) -> &mut Self {
            for &b in s.as_bytes() {
                self.byte(b);
            }
            self
        }
        fn u32(&mut self, mut v: u32) -> &mut Self {
            let mut d = [0u8; 10];
            let mut n = 0;
            loop {
                d[n] = b'0' + (v % 10) as u8;
                v /= 10;
                n += 1;
                if v == 0 {
                    break;
                }
            }
            while n > 0 {
                n -= 1;
                self.byte(d[n]);
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

    macro_rules! csr64 {
        ($lo:literal, $hi:literal) => {{
            loop {
                let (hi, lo, hi2): (u32, u32, u32);
                // SAFETY: reading the user-level counter CSRs has no side effects.
                unsafe {
                    core::arch::asm!(concat!("csrr {0}, ", $hi), out(reg) hi);
                    core::arch::asm!(concat!("csrr {0}, ", $lo), out(reg) lo);
                    core::arch::asm!(concat!("csrr {0}, ", $hi), out(reg) hi2);
                }
                if hi == hi2 {
                    break (u64::from(hi) << 32) | u64::from(lo);
                }
            }
        }};
    }

    fn cycles() -> u64 {
        csr64!("cycle", "cycleh")
    }

    fn instret() -> u64 {
        csr64!("instret", "instreth")
    }

    /// Prints one line per layer as it completes.
    struct Report {
        uart: Uart,
        instret0: u64,
        instret_total: u64,
    }

    impl Observer for Report {
        fn cycles(&mut self) -> Option<u64> {
            Some(cycles())
        }
        fn layer_start(&mut self, _index: usize) {
            self.instret0 = instret();
        }
        fn layer_done(&mut self, info: &LayerInfo, _output: LayerOutput<'_>) {
            let n = instret().wrapping_sub(self.instret0);
            self.instret_total += n;
            let kind = match info.kind {
                LayerKind::Conv { .. } => "conv",
                LayerKind::Dense { .. } => "dense",
                LayerKind::DenseP { .. } => "dense_p",
            };
            let o = info.output;
            self.uart
                .s("layer ")
                .usize(info.index)
                .s(" ")
                .s(kind)
                .s(" out ")
                .usize(o.h)
                .s("x")
                .usize(o.w)
                .s("x")
                .usize(o.c)
                .s(" macs ")
                .u64(info.macs)
                .s(" cycles ")
                .u64(info.cycles.unwrap_or(0))
                .s(" instret ")
                .u64(n)
                .nl();
        }
    }

    /// `scale` evaluated by rustc's const evaluator, not by LLVM: an independent oracle for
    /// the RV32IM codegen hazard in shared/notes/spike-softcore.md section 7.
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

    fn selftest() -> bool {
        let mut ok = true;
        for (&(acc, m, shift), &want) in SELFTEST.iter().zip(EXPECTED.iter()) {
            let acc = core::hint::black_box(acc);
            let rq = core::hint::black_box(Requant { m, shift });
            ok &= scale(acc, rq) == want;
            ok &= requantize(acc, rq) == want.clamp(0, 255) as u8;
        }
        ok
    }

    /// Copies blob + image from the flash window to RAM when the flash holds a blob (see
    /// `memmap::FLASH_MODEL`): ascending word loads only, as spimemio streams them.
    fn load_from_flash() -> bool {
        let src = FLASH_MODEL as *const u32;
        let dst = MODEL_ADDR as *mut u32;
        // SAFETY: the flash window is readable; [MODEL_ADDR, INPUT_ADDR + INPUT_MAX_LEN) is RAM
        // reserved for blob and image (memmap.rs), disjoint from everything this program uses.
        unsafe {
            if read_volatile(src) != u32::from_le_bytes(firmware::model::MAGIC) {
                return false;
            }
            for i in 0..((MODEL_MAX_LEN + INPUT_MAX_LEN) / 4) as usize {
                write_volatile(dst.add(i), read_volatile(src.add(i)));
            }
        }
        true
    }

    #[no_mangle]
    extern "C" fn main() -> ! {
        let mut uart = Uart;
        uart.s("cnnfpga firmware ")
            .s(env!("CARGO_PKG_VERSION"))
            .nl();
        if !selftest() {
            uart.s("error: requant selftest").nl();
            exit(4);
        }
        if load_from_flash() {
            uart.s("loaded model and image from flash").nl();
        }
        // SAFETY: [MODEL_ADDR, +MODEL_MAX_LEN) is RAM reserved for the blob (memmap.rs), filled
        // before reset and never written by this program.
        let region =
            unsafe { core::slice::from_raw_parts(MODEL_ADDR as *const u8, MODEL_MAX_LEN as usize) };
        let model = match Model::parse_prefix(region) {
            Ok(m) => m,
            Err(e) => {
                // the code is FormatError::code (docs/model-format.md lists them)
                uart.s("error: model ").u32(e.code().into()).nl();
                exit(1);
            }
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
            exit(2);
        }
        // SAFETY: [INPUT_ADDR, +INPUT_MAX_LEN) is RAM reserved for the image (memmap.rs).
        let input = unsafe { core::slice::from_raw_parts(INPUT_ADDR as *const u8, s.len()) };
        // SAFETY: [ARENA_ADDR, +ARENA_LEN) is RAM used by nothing else (the linker keeps
        // .data/.bss below it; the stack starts above the input region).
        let arena =
            unsafe { core::slice::from_raw_parts_mut(ARENA_ADDR as *mut u8, ARENA_LEN as usize) };
        let mut logits = [0i32; MAX_CLASSES];
        let logits = &mut logits[..model.n_classes()];
        let mut report = Report {
            uart: Uart,
            instret0: 0,
            instret_total: 0,
        };
        let t0 = (cycles(), instret());
        let info = match run(
            &model,
            input,
            arena,
            &mut SoftwareBackend,
            logits,
            &mut report,
        ) {
            Ok(info) => info,
            Err(e) => {
                let what = match e {
                    RunError::ArenaTooSmall { .. } => "arena too small",
                    _ => "backend",
                };
                uart.s("error: run: ").s(what).nl();
                exit(3);
            }
        };
        let t1 = (cycles(), instret());
        let name = model.class_name(info.class).unwrap_or("?");
        uart.s("class ").usize(info.class).s(" ").s(name).nl();
        uart.s("logits");
        for &l in logits.iter() {
            uart.s(" ").i32(l);
        }
        uart.nl();
        uart.s("layers cycles ")
            .u64(info.total_cycles().unwrap_or(0))
            .s(" instret ")
            .u64(report.instret_total)
            .nl();
        uart.s("run cycles ")
            .u64(t1.0.wrapping_sub(t0.0))
            .s(" instret ")
            .u64(t1.1.wrapping_sub(t0.1))
            .nl();
        exit(0);
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        Uart.s("PANIC\n");
        exit(255);
    }
}
