//! The whole SoC in Verilator: build the firmware ELF, lay out the SPI flash (firmware image,
//! model blob, input image at the `FLASH_*` areas of the register map), run to `SYS.EXIT`, a
//! trap or a cycle limit, and parse the UART transcript (format: `firmware/src/bin/soc.rs`).
//!
//! ```no_run
//! # fn blob() -> Vec<u8> { vec![] }
//! use sim::soc::{self, Firmware, Flash, RunOptions};
//! let fw = Firmware::build(&Firmware::default_target_dir()).unwrap();
//! let flash = Flash::new(&fw, false, &blob(), &[0u8; 64 * 64 * 3]).unwrap();
//! let run = soc::run(&flash, &RunOptions::default()).unwrap();
//! let t = run.transcript().unwrap();
//! println!("class {} in {} cycles", t.class, t.layers_cycles);
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::soc_config::SocConfig;
use firmware::exit;
use firmware::memmap::{
    FLASH_FW_LEN, FLASH_FW_OFFSET, FLASH_INPUT_LEN, FLASH_INPUT_OFFSET, FLASH_MODEL_LEN,
    FLASH_MODEL_OFFSET, FW_ADDR, FW_FLAG_SOFTWARE, FW_HEADER_LEN, FW_LEN, FW_MAGIC,
};

/// Errors of the SoC harness.
#[derive(Debug)]
#[non_exhaustive]
pub enum SocError {
    /// The firmware build failed or its tools are missing.
    Build(String),
    /// The ELF is not a RV32 executable that fits `FW`.
    Elf(String),
    /// Something does not fit its flash area.
    TooLarge {
        /// Which item.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The area size.
        max: usize,
    },
    /// No Verilated model (Verilator was missing when the crate was built).
    NoModel(String),
    /// I/O (temp files, trace).
    Io(std::io::Error),
    /// The transcript does not have the documented form.
    Transcript(String),
}

impl std::fmt::Display for SocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocError::Build(s) => write!(f, "firmware build: {s}"),
            SocError::Elf(s) => write!(f, "firmware ELF: {s}"),
            SocError::TooLarge { what, len, max } => {
                write!(f, "{what} is {len} bytes, its flash area holds {max}")
            }
            SocError::NoModel(s) => write!(f, "no SoC model: {s}"),
            SocError::Io(e) => write!(f, "{e}"),
            SocError::Transcript(s) => write!(f, "UART transcript: {s}"),
        }
    }
}

impl std::error::Error for SocError {}

impl From<std::io::Error> for SocError {
    fn from(e: std::io::Error) -> Self {
        SocError::Io(e)
    }
}

/// The RISC-V target the firmware is built for: RV32I, which every PicoRV32 configuration
/// runs (the board's has no multiplier, `BOARD_CPU_MUL` = 0), so one binary serves every
/// [`SocConfig`] and the bitstream (`cnnfpga fpga build`).
pub const TARGET: &str = "riscv32i-unknown-none-elf";
/// The firmware for a PicoRV32 with a multiplier (RV32IM): only the kernels benchmark builds
/// it ([`Firmware::build_for`]), to show what `SocConfig::IcebreakerFastMul`'s multiplier
/// gives the software kernels.
pub const TARGET_MUL: &str = "riscv32im-unknown-none-elf";
/// The cargo profile the project ships the firmware with (`opt-level = "s"`, LTO).
pub const PROFILE: &str = "firmware";

/// A built firmware: the ELF and the flat image the boot ROM copies to `FW_ADDR`.
#[derive(Clone, Debug)]
pub struct Firmware {
    /// Path of the ELF.
    pub elf: PathBuf,
    /// Flat binary from `FW_ADDR` (loadable segments, gaps zero-filled).
    pub image: Vec<u8>,
    /// Opt-level it was built with.
    pub opt_level: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sim/ has a parent")
        .to_path_buf()
}

/// FNV-1a over the target, the opt-level and the firmware sources: the cache key of a build.
fn source_hash(root: &Path, target: &str, opt_level: &str) -> std::io::Result<u64> {
    let mut files = Vec::new();
    let mut stack = vec![root.join("firmware/src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.extend(
        [
            "firmware/Cargo.toml",
            "firmware/build.rs",
            "Cargo.toml",
            "Cargo.lock",
        ]
        .map(|f| root.join(f)),
    );
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h = (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
        }
    };
    eat(target.as_bytes());
    eat(opt_level.as_bytes());
    for f in files {
        eat(f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .as_bytes());
        eat(&std::fs::read(&f).unwrap_or_default());
    }
    Ok(h)
}

impl Firmware {
    /// `target/soc-fw` under the workspace (its own target dir: no lock contention with the
    /// cargo that runs the tests).
    pub fn default_target_dir() -> PathBuf {
        workspace_root().join("target/soc-fw")
    }

    /// Builds the firmware at the shipped profile (opt-level `s`).
    pub fn build(target_dir: &Path) -> Result<Firmware, SocError> {
        Self::build_opt(target_dir, "s")
    }

    /// Builds the firmware with `opt_level` (`s`, `z`, `2`, `3`...) overriding the
    /// `firmware` profile's, or reuses the copy cached under `target_dir/elf/<hash>` when
    /// the firmware sources hash the same.
    pub fn build_opt(target_dir: &Path, opt_level: &str) -> Result<Firmware, SocError> {
        Self::build_for(target_dir, TARGET, opt_level)
    }

    /// [`Firmware::build_opt`] for another RISC-V `target` ([`TARGET_MUL`]).
    pub fn build_for(
        target_dir: &Path,
        target: &str,
        opt_level: &str,
    ) -> Result<Firmware, SocError> {
        let root = workspace_root();
        let hash = source_hash(&root, target, opt_level)?;
        let cached = target_dir.join(format!("elf/{hash:016x}-O{opt_level}.elf"));
        if !cached.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(&root)
                .args([
                    "build",
                    "-q",
                    "-p",
                    "firmware",
                    "--features",
                    "soc",
                    "--profile",
                    PROFILE,
                    "--target",
                    target,
                ])
                .arg("--target-dir")
                .arg(target_dir)
                .env("CARGO_PROFILE_FIRMWARE_OPT_LEVEL", opt_level);
            for v in [
                "RUSTFLAGS",
                "CARGO_ENCODED_RUSTFLAGS",
                "CARGO_BUILD_TARGET",
                "CARGO_TARGET_DIR",
            ] {
                cmd.env_remove(v);
            }
            let out = cmd
                .output()
                .map_err(|e| SocError::Build(format!("cannot run cargo: {e}")))?;
            if !out.status.success() {
                return Err(SocError::Build(format!(
                    "{}\n(needs `rustup target add {target}`; scripts/setup.sh installs it)",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            std::fs::create_dir_all(cached.parent().expect("has parent"))?;
            std::fs::copy(target_dir.join(target).join(PROFILE).join("soc"), &cached)?;
        }
        let elf = std::fs::read(&cached)?;
        Ok(Firmware {
            image: elf_image(&elf)?,
            elf: cached,
            opt_level: opt_level.to_string(),
        })
    }
}

/// Flattens the PT_LOAD segments of a little-endian ELF32 into an image starting at `FW_ADDR`.
pub fn elf_image(elf: &[u8]) -> Result<Vec<u8>, SocError> {
    let bad = |m: &str| SocError::Elf(m.to_string());
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) || u16_at(18) != Some(243) {
        return Err(bad("not a little-endian ELF32 RISC-V file"));
    }
    let (phoff, phentsize, phnum) = (
        u32_at(28).ok_or_else(|| bad("truncated"))? as usize,
        usize::from(u16_at(42).ok_or_else(|| bad("truncated"))?),
        usize::from(u16_at(44).ok_or_else(|| bad("truncated"))?),
    );
    let mut image = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let f = |k: usize| u32_at(ph + 4 * k).ok_or_else(|| bad("truncated program header"));
        let (p_type, offset, paddr, filesz) = (f(0)?, f(1)? as usize, f(3)?, f(4)? as usize);
        if p_type != 1 || filesz == 0 {
            continue;
        }
        if paddr < FW_ADDR || paddr as usize - FW_ADDR as usize + filesz > FW_LEN as usize {
            return Err(SocError::Elf(format!(
                "segment at {paddr:#x} (+{filesz}) outside FW"
            )));
        }
        let at = (paddr - FW_ADDR) as usize;
        if image.len() < at + filesz {
            image.resize(at + filesz, 0);
        }
        image[at..at + filesz].copy_from_slice(
            elf.get(offset..offset + filesz)
                .ok_or_else(|| bad("segment past the end"))?,
        );
    }
    if image.is_empty() {
        return Err(bad("no loadable segment"));
    }
    image.resize(image.len().next_multiple_of(4), 0);
    Ok(image)
}

/// SPI flash contents: the three areas the SoC reads (the bitstream area stays erased).
#[derive(Clone, Debug)]
pub struct Flash {
    /// Firmware image: header + binary, at `FLASH_FW_OFFSET`.
    pub fw: Vec<u8>,
    /// Model blob, at `FLASH_MODEL_OFFSET`.
    pub model: Vec<u8>,
    /// Input image, at `FLASH_INPUT_OFFSET`.
    pub input: Vec<u8>,
}

impl Flash {
    /// Lays out `fw` (with the software-only flag if asked), the blob and the image.
    pub fn new(
        fw: &Firmware,
        software_only: bool,
        blob: &[u8],
        input: &[u8],
    ) -> Result<Flash, SocError> {
        let check = |what, len: usize, max: u32| {
            if len > max as usize {
                Err(SocError::TooLarge {
                    what,
                    len,
                    max: max as usize,
                })
            } else {
                Ok(())
            }
        };
        check(
            "firmware image",
            fw.image.len(),
            FW_LEN.min(FLASH_FW_LEN - FW_HEADER_LEN),
        )?;
        check(
            "model blob",
            blob.len(),
            FLASH_MODEL_LEN.min(firmware::memmap::MODEL_LEN),
        )?;
        check(
            "input image",
            input.len(),
            FLASH_INPUT_LEN.min(firmware::memmap::INPUT_LEN),
        )?;
        let mut hdr = Vec::with_capacity(fw.image.len() + 16);
        hdr.extend_from_slice(&FW_MAGIC);
        hdr.extend_from_slice(&(fw.image.len() as u32).to_le_bytes());
        hdr.extend_from_slice(&(if software_only { FW_FLAG_SOFTWARE } else { 0 }).to_le_bytes());
        hdr.extend_from_slice(&0u32.to_le_bytes());
        hdr.extend_from_slice(&fw.image);
        Ok(Flash {
            fw: hdr,
            model: blob.to_vec(),
            input: input.to_vec(),
        })
    }

    /// The same flash with the firmware header's serve flag set (`FW_FLAG_SERVE`: answer
    /// request frames on the UART instead of classifying the flash input image once).
    pub fn serving(mut self) -> Flash {
        let flags = u32::from_le_bytes([self.fw[8], self.fw[9], self.fw[10], self.fw[11]])
            | firmware::memmap::FW_FLAG_SERVE;
        self.fw[8..12].copy_from_slice(&flags.to_le_bytes());
        self
    }

    /// `$readmemh` text: `@offset` lines and one byte per line.
    pub fn to_hex(&self) -> String {
        let mut s = String::new();
        for (off, bytes) in [
            (FLASH_FW_OFFSET, &self.fw),
            (FLASH_MODEL_OFFSET, &self.model),
            (FLASH_INPUT_OFFSET, &self.input),
        ] {
            let _ = writeln!(s, "@{off:x}");
            for b in bytes.iter() {
                let _ = writeln!(s, "{b:02x}");
            }
        }
        s
    }
}

/// Default cycle limit of one run ([`RunOptions::max_cycles`], the `--max-cycles` of
/// `cnnfpga sim` and `bench soc`, the demo's runs): a software-only run of a 64x64 model takes
/// ~2.4 G cycles on the board's SERV.
pub const DEFAULT_MAX_CYCLES: u64 = 8_000_000_000;

/// Limits and tracing of one run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Stop (as [`Outcome::Timeout`]) after this many cycles.
    pub max_cycles: u64,
    /// Write an FST waveform here.
    pub trace: Option<PathBuf>,
    /// Which SoC: the iCEBreaker board configuration (default), or a PicoRV32 reference (with
    /// the fast multiplier, or with the default engines).
    pub config: SocConfig,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            max_cycles: DEFAULT_MAX_CYCLES,
            trace: None,
            config: SocConfig::Icebreaker,
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The firmware wrote this code to `SYS.EXIT`.
    Exit(u32),
    /// PicoRV32 trapped (illegal instruction, misaligned access, ebreak).
    Trap,
    /// `max_cycles` passed.
    Timeout,
}

/// Result of a SoC run.
#[derive(Clone, Debug)]
pub struct SocRun {
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes sent by the UART.
    pub uart: Vec<u8>,
    /// Clock cycles since reset.
    pub cycles: u64,
    /// Retired instructions since reset, low 32 bits (counted by `soc_core` in simulation:
    /// the board's CPU has no counter CSRs).
    pub instret: u32,
    /// Address of the last instruction fetch (the trapping instruction after a trap).
    pub pc: u32,
    /// Wall-clock time of the simulation.
    pub seconds: f64,
    /// CPU time of the simulating thread (Linux; `None` elsewhere): steadier than `seconds`
    /// on a machine shared with other jobs.
    pub cpu_seconds: Option<f64>,
}

impl SocRun {
    /// The UART output as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.uart).into_owned()
    }

    /// Ok if the firmware exited with [`firmware::exit::OK`]; else an error naming the outcome
    /// (with the [`firmware::exit`] description of the code), PC, cycle and the
    /// transcript's tail.
    pub fn check(&self) -> Result<(), String> {
        let what = match self.outcome {
            Outcome::Exit(exit::OK) => return Ok(()),
            Outcome::Exit(c @ exit::BOOT_FAIL) => {
                format!("boot ROM found no firmware image (exit {c:#x})")
            }
            Outcome::Exit(c) => match exit::describe(c) {
                Some(what) => format!("firmware exited with {c} ({what})"),
                None => format!("firmware exited with {c}"),
            },
            Outcome::Trap => "CPU trapped".to_string(),
            Outcome::Timeout => "timeout".to_string(),
        };
        let text = self.text();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        Err(format!(
            "{what} at pc {:#010x}, cycle {}; UART tail:\n{}",
            self.pc,
            self.cycles,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// Parses the transcript (requires a clean exit).
    pub fn transcript(&self) -> Result<Transcript, SocError> {
        self.check().map_err(SocError::Transcript)?;
        Transcript::parse(&self.text())
    }

    /// Simulated cycles per wall-clock second.
    pub fn cycles_per_second(&self) -> f64 {
        self.cycles as f64 / self.seconds.max(1e-9)
    }

    /// Simulated cycles per CPU second of the simulating thread.
    pub fn cycles_per_cpu_second(&self) -> Option<f64> {
        self.cpu_seconds.map(|c| self.cycles as f64 / c.max(1e-9))
    }
}

/// CPU time of the calling thread so far (`/proc/thread-self/schedstat`, Linux).
pub fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<u64>().ok()? as f64 * 1e-9)
}

/// Runs the SoC with `flash` until EXIT, a trap or `max_cycles`.
pub fn run(flash: &Flash, opts: &RunOptions) -> Result<SocRun, SocError> {
    run_with_progress(flash, opts, &mut |_| {})
}

/// Cycles between two calls of the progress callback of [`run_with_progress`] (~0.2 s).
pub const PROGRESS_CYCLES: u64 = 1 << 20;

/// [`run`], calling `progress(cycles since reset)` every [`PROGRESS_CYCLES`] cycles (for a
/// progress line during minutes-long software-only runs; the simulation is the same).
pub fn run_with_progress(
    flash: &Flash,
    opts: &RunOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<SocRun, SocError> {
    #[cfg(sim_no_verilator)]
    {
        let _ = (flash, opts, progress);
        Err(SocError::NoModel(
            crate::vl::MISSING.unwrap_or("no model").to_string(),
        ))
    }
    #[cfg(not(sim_no_verilator))]
    {
        let t0 = std::time::Instant::now();
        let cpu0 = thread_cpu_seconds();
        let mut m = start_model(flash, opts)?;
        let mut uart = Vec::new();
        let mut cycles = 0u64;
        let outcome = loop {
            // Many cycles per call: the model stops after a cycle with a UART byte, an EXIT
            // write or a trap, which are looked at here as after each single cycle.
            let chunk = PROGRESS_CYCLES - cycles % PROGRESS_CYCLES;
            cycles += m.run(
                opts.max_cycles.saturating_sub(cycles).clamp(1, chunk),
                crate::soc_model::SocVariant::STOP,
            );
            if cycles.is_multiple_of(PROGRESS_CYCLES) {
                progress(cycles);
            }
            if m.uart_valid_o() != 0 {
                uart.push(m.uart_data_o());
            }
            if m.exit_valid_o() != 0 {
                break Outcome::Exit(m.exit_code_o());
            }
            if m.trap_o() != 0 {
                break Outcome::Trap;
            }
            if cycles >= opts.max_cycles {
                break Outcome::Timeout;
            }
        };
        if opts.trace.is_some() {
            m.flush_trace();
        }
        Ok(SocRun {
            outcome,
            uart,
            cycles,
            instret: m.instret_o(),
            pc: m.pc_o(),
            seconds: t0.elapsed().as_secs_f64(),
            cpu_seconds: cpu0.and_then(|c0| Some(thread_cpu_seconds()? - c0)),
        })
    }
}

/// A fresh SoC model of `opts.config` with `flash` loaded, the RX line idle, after reset.
#[cfg(not(sim_no_verilator))]
fn start_model(flash: &Flash, opts: &RunOptions) -> Result<crate::soc_model::SocVariant, SocError> {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let hex = std::env::temp_dir().join(format!("cnnfpga-flash-{}-{n}.hex", std::process::id()));
    std::fs::write(&hex, flash.to_hex())?;
    let mut m = crate::soc_model::SocVariant::new(opts.config);
    m.set_command_args(&[&format!("+flash={}", hex.display())]);
    if let Some(t) = &opts.trace {
        m.open_trace(t)?;
    }
    m.set_uart_rx_i(1); // the idle line
    m.set_rst_ni(0);
    for _ in 0..4 {
        m.tick();
    }
    let _ = std::fs::remove_file(&hex);
    m.set_rst_ni(1);
    Ok(m)
}

/// An interactive run of the SoC for the UART request protocol (serve mode, `firmware::proto`):
/// the harness drives the RX pin bit by bit with the SoC's own divider (`BOARD_UART_DIV` clock
/// cycles per bit, 8N1, LSB first), as the FT2232H would, and collects what the SoC sends.
///
/// ```no_run
/// # fn flash() -> sim::soc::Flash { unimplemented!() }
/// use sim::soc::{RunOptions, Session};
/// let mut s = Session::start(&flash(), &RunOptions::default()).unwrap();
/// let ready = s.read_line_starting("serve", 100_000_000).unwrap();
/// s.send(&[0x43, 0x4e]).unwrap();
/// ```
pub struct Session {
    #[cfg(not(sim_no_verilator))]
    m: crate::soc_model::SocVariant,
    /// Everything the SoC sent so far.
    uart: Vec<u8>,
    /// Bytes of `uart` already returned as lines.
    read: usize,
    cycles: u64,
    max_cycles: u64,
    ended: Option<Outcome>,
}

/// Clock cycles per UART bit of every simulated SoC configuration (the board's divider).
pub const UART_DIV: u64 = firmware::regs::BOARD_UART_DIV as u64;

impl Session {
    /// Starts the SoC with `flash` (which should carry the serve flag: [`Flash::serving`]).
    pub fn start(flash: &Flash, opts: &RunOptions) -> Result<Session, SocError> {
        #[cfg(sim_no_verilator)]
        {
            let _ = (flash, opts);
            Err(SocError::NoModel(
                crate::vl::MISSING.unwrap_or("no model").to_string(),
            ))
        }
        #[cfg(not(sim_no_verilator))]
        {
            Ok(Session {
                m: start_model(flash, opts)?,
                uart: Vec::new(),
                read: 0,
                cycles: 0,
                max_cycles: opts.max_cycles,
                ended: None,
            })
        }
    }

    /// Clock cycles since reset.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Everything the SoC sent so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.uart).into_owned()
    }

    /// Runs `n` cycles with the RX line at its current level, collecting UART output; stops
    /// early (an error) on an EXIT write, a trap or the run's `max_cycles`.
    fn step(&mut self, n: u64) -> Result<(), SocError> {
        #[cfg(sim_no_verilator)]
        {
            let _ = n;
            unreachable!("no session without a model")
        }
        #[cfg(not(sim_no_verilator))]
        {
            let end = self.cycles + n;
            while self.cycles < end {
                if let Some(o) = self.ended {
                    return Err(SocError::Transcript(format!(
                        "the SoC stopped ({o:?}) at cycle {}; UART:\n{}",
                        self.cycles,
                        self.text()
                    )));
                }
                self.cycles += self
                    .m
                    .run(end - self.cycles, crate::soc_model::SocVariant::STOP);
                if self.m.uart_valid_o() != 0 {
                    self.uart.push(self.m.uart_data_o());
                }
                if self.m.exit_valid_o() != 0 {
                    self.ended = Some(Outcome::Exit(self.m.exit_code_o()));
                } else if self.m.trap_o() != 0 {
                    self.ended = Some(Outcome::Trap);
                } else if self.cycles >= self.max_cycles {
                    self.ended = Some(Outcome::Timeout);
                }
            }
            Ok(())
        }
    }

    /// Lets `cycles` pass with the RX line idle (high).
    pub fn idle(&mut self, cycles: u64) -> Result<(), SocError> {
        #[cfg(not(sim_no_verilator))]
        self.m.set_uart_rx_i(1);
        self.step(cycles)
    }

    /// Sends `bytes` on the RX line, 8N1 with [`UART_DIV`] cycles per bit, back to back.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), SocError> {
        for &b in bytes {
            // start bit, eight data bits LSB first, stop bit
            let bits = std::iter::once(0u8)
                .chain((0..8).map(|i| (b >> i) & 1))
                .chain(std::iter::once(1u8));
            for bit in bits {
                #[cfg(not(sim_no_verilator))]
                self.m.set_uart_rx_i(bit);
                #[cfg(sim_no_verilator)]
                let _ = bit;
                self.step(UART_DIV)?;
            }
        }
        Ok(())
    }

    /// Runs until the SoC has sent a whole line that was not returned before, and returns it
    /// (without the newline); an error after `max_cycles` more cycles or if the SoC stops.
    /// A line is seen when its newline has left the TX pin, as a host on the wire sees it:
    /// the harness records a byte when the firmware writes it, so the newline's ten bit times
    /// (`10 * UART_DIV` cycles) run first; a client cannot answer a line any sooner.
    pub fn read_line(&mut self, max_cycles: u64) -> Result<String, SocError> {
        let limit = self.cycles + max_cycles;
        loop {
            if let Some(i) = self.uart[self.read..].iter().position(|&b| b == b'\n') {
                let line =
                    String::from_utf8_lossy(&self.uart[self.read..self.read + i]).into_owned();
                self.read += i + 1;
                #[cfg(not(sim_no_verilator))]
                self.m.set_uart_rx_i(1);
                self.step(10 * UART_DIV)?;
                return Ok(line);
            }
            if self.cycles >= limit {
                return Err(SocError::Transcript(format!(
                    "no UART line within {max_cycles} cycles (cycle {}); UART so far:\n{}",
                    self.cycles,
                    self.text()
                )));
            }
            #[cfg(not(sim_no_verilator))]
            self.m.set_uart_rx_i(1);
            self.step((limit - self.cycles).min(UART_DIV * 10))?;
        }
    }

    /// [`Session::read_line`] until a line starting with `prefix`, skipping others.
    pub fn read_line_starting(
        &mut self,
        prefix: &str,
        max_cycles: u64,
    ) -> Result<String, SocError> {
        let limit = self.cycles + max_cycles;
        loop {
            let line = self.read_line(limit.saturating_sub(self.cycles).max(1))?;
            if line.starts_with(prefix) {
                return Ok(line);
            }
        }
    }
}

/// One `layer` line of the transcript (also the per-layer record of `cnnfpga sim --json` and
/// `cnnfpga bench soc --json`; `out` serialises as `[h, w, c]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LayerLine {
    /// Layer index.
    pub index: usize,
    /// `conv`, `dense` or `dense_p`.
    pub kind: String,
    /// Output shape `(h, w, c)`.
    pub out: (usize, usize, usize),
    /// MACs (P layers: shift-adds).
    pub macs: u64,
    /// Where it ran: `conv`, `pengine` or `sw`.
    pub engine: String,
    /// Cycles (`SYS.CYCLES`, read by the firmware) around the layer.
    pub cycles: u64,
}

/// The parsed UART transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// Engines in use `(conv, pengine)`.
    pub engines: (bool, bool),
    /// Per-layer lines.
    pub layers: Vec<LayerLine>,
    /// Predicted class.
    pub class: usize,
    /// Its name.
    pub class_name: String,
    /// Logits.
    pub logits: Vec<i32>,
    /// Sum of the layer cycles.
    pub layers_cycles: u64,
    /// Cycles of the whole `run` call.
    pub run_cycles: u64,
}

fn num<T: std::str::FromStr>(s: Option<&str>, line: &str) -> Result<T, SocError> {
    let s = s.ok_or_else(|| SocError::Transcript(format!("short line {line:?}")))?;
    let parsed = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16)
            .ok()
            .and_then(|v| v.to_string().parse().ok()),
        None => s.parse().ok(),
    };
    parsed.ok_or_else(|| SocError::Transcript(format!("bad number {s:?} in {line:?}")))
}

fn shape(s: Option<&str>, line: &str) -> Result<(usize, usize, usize), SocError> {
    let v: Vec<&str> = s.unwrap_or("").split('x').collect();
    if v.len() != 3 {
        return Err(SocError::Transcript(format!("bad shape in {line:?}")));
    }
    Ok((
        num(Some(v[0]), line)?,
        num(Some(v[1]), line)?,
        num(Some(v[2]), line)?,
    ))
}

impl Transcript {
    /// Parses the documented format (unknown lines are ignored; a missing item is an error).
    pub fn parse(text: &str) -> Result<Transcript, SocError> {
        let mut t = Transcript {
            engines: (false, false),
            layers: Vec::new(),
            class: usize::MAX,
            class_name: String::new(),
            logits: Vec::new(),
            layers_cycles: 0,
            run_cycles: 0,
        };
        let (mut saw_logits, mut saw_run) = (false, false);
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.first().copied() {
                Some("engines") if w.len() == 5 => {
                    t.engines = (w[2] == "1", w[4] == "1");
                }
                Some("layer") if w.len() == 11 => t.layers.push(LayerLine {
                    index: num(w.get(1).copied(), line)?,
                    kind: w[2].to_string(),
                    out: shape(w.get(4).copied(), line)?,
                    macs: num(w.get(6).copied(), line)?,
                    engine: w[8].to_string(),
                    cycles: num(w.get(10).copied(), line)?,
                }),
                Some("class") => {
                    t.class = num(w.get(1).copied(), line)?;
                    t.class_name = w.get(2..).map(|r| r.join(" ")).unwrap_or_default();
                }
                Some("logits") => {
                    t.logits = w[1..]
                        .iter()
                        .map(|x| num(Some(x), line))
                        .collect::<Result<_, _>>()?;
                    saw_logits = true;
                }
                Some("layers") if w.get(1) == Some(&"cycles") => {
                    t.layers_cycles = num(w.get(2).copied(), line)?;
                }
                Some("run") if w.get(1) == Some(&"cycles") => {
                    t.run_cycles = num(w.get(2).copied(), line)?;
                    saw_run = true;
                }
                _ => {}
            }
        }
        if t.class == usize::MAX || !saw_logits || !saw_run || t.layers.is_empty() {
            return Err(SocError::Transcript(format!("incomplete:\n{text}")));
        }
        Ok(t)
    }
}
