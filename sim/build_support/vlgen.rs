// Build support for Verilator models (used by sim/build.rs; plain std + the `cc` crate).
//
// Per model: `verilator --cc --build` into OUT_DIR/vl_<name> with prefix V<name>, parse the
// ports from V<name>.h, write a C++ shim (one VerilatedContext per instance; the clock loop
// `tick`/`run` lives there, so a long run is one FFI call) and a typed Rust wrapper. A
// `Trace::Twin` model is built twice: V<name> without tracing code (the fast default) and
// V<name>_trace with `--trace-fst`, swapped in by `open_trace` before the first evaluation.
// Once per crate: the Verilator runtime (verilated.o, verilated_threads.o, verilated_fst_c.o
// built with the first model's makefile), archived as libverilated_rt.a and kept across
// rebuilds (it only depends on the Verilator installation and the flags below).
//
// Tested with Verilator 5.006 (Debian 12).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One Verilated model.
#[derive(Clone, Copy)]
pub struct Model {
    /// Identifier: C/Rust symbol prefix, the `--prefix V<name>`, the Rust module name.
    pub name: &'static str,
    /// Top module.
    pub top: &'static str,
    /// File list (one path per line, relative to the workspace root; `#` comments).
    pub filelist: &'static str,
    /// Extra verilator arguments (e.g. `-GLanes=8`).
    pub args: &'static [&'static str],
    /// Clock port driven by the generated `tick()`.
    pub clock: &'static str,
    /// Name of the generated Rust struct.
    pub rust_type: &'static str,
    /// How FST tracing is built in.
    pub trace: Trace,
}

/// How a model supports FST tracing.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Trace {
    /// One build with `--trace-fst`: `open_trace` works at any time. The tracing code costs
    /// speed even while no trace is open (the SoC: 7-17 %), which small models can afford.
    Always,
    /// Two builds: `V<name>` without tracing code, used unless a trace is opened, and
    /// `V<name>_trace` with `--trace-fst`; `open_trace` swaps the traced build in and must come
    /// before the first `eval`/`tick`/`run` (a whole run is traced, as the SoC harness does).
    Twin,
}

/// C and C++ flags of the models and the runtime (measured on both SoC builds,
/// docs/performance.md "Simulation speed"). `-fPIC` keeps the archives linkable into any Rust
/// artefact; `-fno-semantic-interposition` lets gcc inline the model's evaluation functions into
/// each other anyway (-fPIC alone forbids it: 4-18 % slower); `-fno-tree-vectorize`: gcc's
/// vectoriser (on at -O3) made the SoC 14-18 % slower (-march=native: up to 30 %).
const CFLAGS: &[&str] = &[
    "-fPIC",
    "-fno-semantic-interposition",
    "-fno-tree-vectorize",
];
/// Optimisation levels of the Verilator makefile (its default is -Os: 1.5x slower).
const MAKEFLAGS: &str = "OPT_FAST=-O3 OPT_SLOW=-O1 OPT_GLOBAL=-O2";

/// A port parsed from V<name>.h.
#[derive(Debug)]
pub struct Port {
    pub name: String,
    pub dir: Dir,
    pub width: u32,
    /// 8, 16, 32, 64, or 0 for a wide port (array of u32 words).
    pub storage: u32,
    pub words: u32,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Dir {
    In,
    Out,
    InOut,
}

pub struct Env {
    pub root: PathBuf,
    pub out_dir: PathBuf,
    pub verilator: String,
    pub vroot: PathBuf,
    pub jobs: String,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `Some(version line)` when `verilator` runs.
pub fn verilator_version(verilator: &str) -> Option<String> {
    let out = Command::new(verilator).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn verilator_root(verilator: &str) -> PathBuf {
    let out = Command::new(verilator)
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .expect("verilator --getenv VERILATOR_ROOT");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The files of a list (`filelist` crate: `-f` includes, `$PICORV32/` resolved); a build
/// script can only stop, so a bad list panics with the reader's message.
pub fn read_filelist(root: &Path, list: &str) -> filelist::Listing {
    filelist::entries(root, list).unwrap_or_else(|e| panic!("{e}"))
}

/// The source files of `list` under `root` in read order.
pub fn source_files(root: &Path, list: &str) -> Vec<PathBuf> {
    filelist::files(root, list).unwrap_or_else(|e| panic!("{e}"))
}

/// The Verilator prefix (and OUT_DIR/vl_<..> directory name) of a model's build: `V<name>`,
/// or `V<name>_trace` for the traced twin of a [`Trace::Twin`] model.
fn prefix(m: &Model, twin: bool) -> String {
    if twin {
        format!("V{}_trace", m.name)
    } else {
        format!("V{}", m.name)
    }
}

/// Verilates and compiles one model (`twin`: the traced twin of a [`Trace::Twin`] model);
/// returns its ports.
pub fn build_model(env: &Env, m: &Model, twin: bool, extra_files: &[PathBuf]) -> Vec<Port> {
    let prefix = prefix(m, twin);
    let mdir = env.out_dir.join(format!("vl_{}", &prefix[1..]));
    let _ = std::fs::remove_dir_all(&mdir);
    std::fs::create_dir_all(&mdir).unwrap();
    let mut cmd = Command::new(&env.verilator);
    cmd.args([
        "--cc",
        "--build",
        "-j",
        &env.jobs,
        "-Wall",
        "-Wno-fatal",
        "-O3",
    ])
    .args(["--x-assign", "fast", "--x-initial", "fast", "--noassert"]);
    if twin || m.trace == Trace::Always {
        cmd.arg("--trace-fst");
    }
    cmd.arg("-Mdir")
        .arg(&mdir)
        .args(["--top-module", m.top, "--prefix", &prefix]);
    for f in CFLAGS {
        cmd.args(["-CFLAGS", f]);
    }
    cmd.args(["-MAKEFLAGS", MAKEFLAGS])
        .args(m.args)
        .args(extra_files)
        .args(source_files(&env.root, m.filelist));
    // Lint is owned by the lint tests; keep the build log quiet.
    cmd.arg("-Wno-lint").arg("-Wno-style");
    run(&mut cmd, &format!("verilator ({prefix})"));
    std::fs::copy(
        mdir.join(format!("{prefix}__ALL.a")),
        mdir.join(format!("lib{prefix}__ALL.a")),
    )
    .expect("copy model archive");
    parse_ports(&mdir.join(format!("{prefix}.h")))
}

/// Builds (once) the Verilator runtime archive next to the models, using the makefile of a
/// traced build made before (`twin` as in [`build_model`]).
pub fn build_runtime(env: &Env, any_model: &Model, twin: bool, version: &str) {
    let rt = env.out_dir.join("rt");
    let stamp = rt.join("stamp");
    let key = format!("{version}\n{} {MAKEFLAGS}", CFLAGS.join(" "));
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str())
        && rt.join("libverilated_rt.a").exists()
    {
        return;
    }
    let prefix = prefix(any_model, twin);
    let mdir = env.out_dir.join(format!("vl_{}", &prefix[1..]));
    let objs = ["verilated.o", "verilated_threads.o", "verilated_fst_c.o"];
    run(
        Command::new("make")
            .arg("-C")
            .arg(&mdir)
            .args([
                "-j",
                &env.jobs,
                "-f",
                &format!("{prefix}.mk"),
                "OPT_GLOBAL=-O2",
            ])
            .args(objs),
        "Verilator runtime",
    );
    std::fs::create_dir_all(&rt).unwrap();
    let lib = rt.join("libverilated_rt.a");
    let _ = std::fs::remove_file(&lib);
    run(
        Command::new("ar")
            .arg("rcs")
            .arg(&lib)
            .args(objs.iter().map(|o| mdir.join(o))),
        "ar runtime",
    );
    std::fs::write(&stamp, key).unwrap();
}

/// Parses `VL_IN8(&name,msb,lsb);` style declarations from a Verilated model header.
pub fn parse_ports(header: &Path) -> Vec<Port> {
    let text =
        std::fs::read_to_string(header).unwrap_or_else(|e| panic!("{}: {e}", header.display()));
    let mut ports = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        let Some(open) = l.find('(') else { continue };
        let mac = &l[..open];
        let (dir, storage) = match mac {
            "VL_IN8" => (Dir::In, 8),
            "VL_IN16" => (Dir::In, 16),
            "VL_IN" => (Dir::In, 32),
            "VL_IN64" => (Dir::In, 64),
            "VL_INW" => (Dir::In, 0),
            "VL_OUT8" => (Dir::Out, 8),
            "VL_OUT16" => (Dir::Out, 16),
            "VL_OUT" => (Dir::Out, 32),
            "VL_OUT64" => (Dir::Out, 64),
            "VL_OUTW" => (Dir::Out, 0),
            "VL_INOUT8" => (Dir::InOut, 8),
            "VL_INOUT16" => (Dir::InOut, 16),
            "VL_INOUT" => (Dir::InOut, 32),
            "VL_INOUT64" => (Dir::InOut, 64),
            "VL_INOUTW" => (Dir::InOut, 0),
            _ => continue,
        };
        let args: Vec<&str> = l[open + 1..]
            .trim_end_matches(';')
            .trim_end_matches(')')
            .split(',')
            .map(str::trim)
            .collect();
        let name = args[0].trim_start_matches('&').to_string();
        let msb: u32 = args[1].parse().expect("port msb");
        let lsb: u32 = args[2].parse().expect("port lsb");
        let width = msb - lsb + 1;
        let words = if storage == 0 {
            args[3].parse().expect("port words")
        } else {
            1
        };
        ports.push(Port {
            name,
            dir,
            width,
            storage,
            words,
        });
    }
    assert!(!ports.is_empty(), "no ports found in {}", header.display());
    ports
}

fn c_type(p: &Port) -> &'static str {
    match p.storage {
        8 => "CData",
        16 => "SData",
        32 => "IData",
        64 => "QData",
        _ => "EData",
    }
}

fn rust_type(p: &Port) -> String {
    match p.storage {
        8 => "u8".into(),
        16 => "u16".into(),
        32 => "u32".into(),
        64 => "u64".into(),
        _ => format!("[u32; {}]", p.words),
    }
}

/// The C++ shim of a model (`@..@` filled in by [`build_shim`]). The clock loop is here, so a
/// long run is one call: `run` ticks until a period leaves a selected output non-zero.
const SHIM: &str = r#"// Generated by sim/build_support/vlgen.rs; do not edit.
#define TWIN @TWIN@
#include "@V@.h"
#if TWIN
#include "@V@_trace.h"
#endif
#include "verilated.h"
#include "verilated_fst_c.h"
#include <cstdint>

namespace {
#if TWIN
using Traced = @V@_trace;
#else
using Traced = @V@;
#endif

struct H {
  VerilatedContext* ctx;
  @V@* m;          // the model (null once the traced twin replaced it)
#if TWIN
  Traced* mt;      // the traced twin, from open_trace on
#endif
  VerilatedFstC* tfp;
  uint64_t time;   // half clock periods since creation
  bool evaluated;
};

// f(model in use).
template <class F> inline decltype(auto) with_model(H* h, F f) {
#if TWIN
  if (h->mt) return f(h->mt);
#endif
  return f(h->m);
}

// Half a clock period: clock level, evaluate, dump when tracing, advance the time.
template <class M> inline void half(H* h, M* m, CData clk) {
  m->@CLK@ = clk;
  m->eval();
  if (h->tfp) {
    h->ctx->time(h->time);
    h->tfp->dump(h->time);
  }
  ++h->time;
}

// The outputs `run` can stop on (the Rust STOP_* bits).
template <class M> inline const CData* stop_port(M* m, int k) {
  (void)m;
  switch (k) {
@STOPS@    default: return nullptr;
  }
}

template <class M> uint64_t run(H* h, M* m, uint64_t max, uint64_t mask) {
  h->evaluated = true;
  const CData* stop[64];
  int ns = 0;
  for (int k = 0; k < 64; ++k) {
    if (((mask >> k) & 1) && stop_port(m, k)) stop[ns++] = stop_port(m, k);
  }
  for (uint64_t n = 1; n <= max; ++n) {
    half(h, m, 0);
    half(h, m, 1);
    for (int j = 0; j < ns; ++j) {
      if (*stop[j]) return n;
    }
  }
  return max;
}
}  // namespace

extern "C" {
void* vl_@N@_new() {
  H* h = new H{};
  h->ctx = new VerilatedContext;
  h->ctx->traceEverOn(true);
  h->m = new @V@(h->ctx, "TOP");
  return h;
}

void vl_@N@_delete(void* p) {
  H* h = static_cast<H*>(p);
  with_model(h, [](auto* m) { m->final(); });
  if (h->tfp) {
    h->tfp->close();
    delete h->tfp;
  }
  delete h->m;
#if TWIN
  delete h->mt;
#endif
  delete h->ctx;
  delete h;
}

void vl_@N@_eval(void* p) {
  H* h = static_cast<H*>(p);
  h->evaluated = true;
  with_model(h, [](auto* m) { m->eval(); });
}

void vl_@N@_tick(void* p) {
  H* h = static_cast<H*>(p);
  h->evaluated = true;
  with_model(h, [h](auto* m) {
    half(h, m, 0);
    half(h, m, 1);
  });
}

uint64_t vl_@N@_run(void* p, uint64_t max, uint64_t mask) {
  H* h = static_cast<H*>(p);
  return with_model(h, [h, max, mask](auto* m) { return run(h, m, max, mask); });
}

uint64_t vl_@N@_time(void* p) { return static_cast<H*>(p)->time; }

void vl_@N@_command_args(void* p, int argc, const char** argv) {
  static_cast<H*>(p)->ctx->commandArgs(argc, argv);
}

// 1: tracing; 0: the file did not open; -1: too late to swap in the traced twin.
int vl_@N@_trace_open(void* p, const char* path, int levels) {
  H* h = static_cast<H*>(p);
#if TWIN
  if (!h->mt) {
    if (h->evaluated) return -1;
@SAVE@    delete h->m;
    h->m = nullptr;
    h->mt = new Traced(h->ctx, "TOP");
@LOAD@  }
  Traced* tm = h->mt;
#else
  Traced* tm = h->m;
#endif
  if (h->tfp) {
    h->tfp->close();
    delete h->tfp;
  }
  h->tfp = new VerilatedFstC;
  tm->trace(h->tfp, levels);
  h->tfp->open(path);
  return h->tfp->isOpen() ? 1 : 0;
}

void vl_@N@_flush(void* p) {
  H* h = static_cast<H*>(p);
  if (h->tfp) h->tfp->flush();
}

void* vl_@N@_port(void* p, int i) {
  return with_model(static_cast<H*>(p), [i](auto* m) -> void* {
    switch (i) {
@PORTS@      default: return nullptr;
    }
  });
}
}
"#;

/// Outputs of at most 8 bits: what `run` can stop on (bit k of its mask = the k-th of them).
fn stop_ports(ports: &[Port]) -> Vec<&Port> {
    ports
        .iter()
        .filter(|p| p.dir != Dir::In && p.storage == 8)
        .take(64)
        .collect()
}

/// Writes and compiles the C++ shim of a model.
pub fn build_shim(env: &Env, m: &Model, ports: &[Port]) {
    let n = m.name;
    let clock = ports
        .iter()
        .find(|p| p.name == m.clock && p.dir == Dir::In && p.storage == 8)
        .unwrap_or_else(|| panic!("{n}: no 1-bit input port {}", m.clock));
    let (mut stops, mut save, mut load, mut cases) =
        (String::new(), String::new(), String::new(), String::new());
    for (k, p) in stop_ports(ports).iter().enumerate() {
        let _ = writeln!(stops, "    case {k}: return &m->{};", p.name);
    }
    for (i, p) in ports.iter().enumerate() {
        let _ = writeln!(
            cases,
            "      case {i}: return static_cast<void*>(&m->{}); // {}",
            p.name,
            c_type(p)
        );
        if p.dir != Dir::Out {
            let _ = writeln!(save, "    const auto in_{i} = h->m->{};", p.name);
            let _ = writeln!(load, "    h->mt->{} = in_{i};", p.name);
        }
    }
    let s = SHIM
        .replace("@TWIN@", if m.trace == Trace::Twin { "1" } else { "0" })
        .replace("@V@", &prefix(m, false))
        .replace("@N@", n)
        .replace("@CLK@", &clock.name)
        .replace("@STOPS@", &stops)
        .replace("@SAVE@", &save)
        .replace("@LOAD@", &load)
        .replace("@PORTS@", &cases);
    let path = env.out_dir.join(format!("{n}_shim.cpp"));
    std::fs::write(&path, s).unwrap();
    let mut b = cc::Build::new();
    b.cpp(true).file(&path);
    b.include(env.out_dir.join(format!("vl_{n}")));
    if m.trace == Trace::Twin {
        b.include(env.out_dir.join(format!("vl_{n}_trace")));
    }
    b.include(env.vroot.join("include"))
        .include(env.vroot.join("include/vltstd"))
        .flag("-std=gnu++17")
        .flag("-Wno-unused-parameter")
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .opt_level(2);
    for f in CFLAGS {
        b.flag(f);
    }
    b.compile(&format!("{n}_shim"));
    // after the shim, which uses them
    let twin = m.trace == Trace::Twin;
    for prefix in std::iter::once(prefix(m, false)).chain(twin.then(|| prefix(m, true))) {
        let mdir = env.out_dir.join(format!("vl_{}", &prefix[1..]));
        println!("cargo:rustc-link-search=native={}", mdir.display());
        println!("cargo:rustc-link-lib=static={prefix}__ALL");
    }
}

/// The Rust wrapper of a model (`@..@` filled in by [`rust_wrapper`]).
const WRAPPER: &str = r#"/// Verilated `@TOP@` (prefix `V@N@`): raw port access, `eval`, `tick`, `run` (many clock
/// periods in one call), FST tracing (@TRACE@).
///
/// Each instance owns its own `VerilatedContext`, so instances on different threads are
/// independent. Generated by `sim/build_support/vlgen.rs`.
pub struct @T@ {
    h: *mut core::ffi::c_void,
@FIELDS@}

unsafe extern "C" {
    fn vl_@N@_new() -> *mut core::ffi::c_void;
    fn vl_@N@_delete(h: *mut core::ffi::c_void);
    fn vl_@N@_eval(h: *mut core::ffi::c_void);
    fn vl_@N@_tick(h: *mut core::ffi::c_void);
    fn vl_@N@_run(h: *mut core::ffi::c_void, max: u64, stop: u64) -> u64;
    fn vl_@N@_time(h: *mut core::ffi::c_void) -> u64;
    fn vl_@N@_command_args(
        h: *mut core::ffi::c_void,
        argc: i32,
        argv: *const *const core::ffi::c_char,
    );
    fn vl_@N@_trace_open(
        h: *mut core::ffi::c_void,
        path: *const core::ffi::c_char,
        levels: i32,
    ) -> i32;
    fn vl_@N@_flush(h: *mut core::ffi::c_void);
    fn vl_@N@_port(h: *mut core::ffi::c_void, i: i32) -> *mut core::ffi::c_void;
}

// SAFETY: the model is only reachable through `&mut self`; its context is private.
unsafe impl Send for @T@ {}

impl Default for @T@ {
    fn default() -> Self {
        Self::new()
    }
}

impl @T@ {
@STOPS@
    /// Creates a model in its own context (all inputs 0, nothing evaluated yet).
    pub fn new() -> Self {
        // SAFETY: the shim returns a valid handle.
        let h = unsafe { vl_@N@_new() };
        assert!(!h.is_null());
        let mut m = Self {
            h,
@NULLS@        };
        m.bind_ports();
        m
    }

    /// Points the port fields at the model in use (after `new` and `open_trace`).
    fn bind_ports(&mut self) {
        // SAFETY: valid handle; the shim returns pointers to the ports of the model in use,
        // stable until the next `open_trace`.
        unsafe {
@BIND@        }
    }

    /// Evaluates the model with the current inputs.
    pub fn eval(&mut self) {
        // SAFETY: valid handle.
        unsafe { vl_@N@_eval(self.h) }
    }

    /// Sets the plusargs (`+name=value`) the RTL reads with `$value$plusargs`; call before the
    /// first `eval`/`tick` (initial blocks run then).
    pub fn set_command_args(&mut self, args: &[&str]) {
        let c: Vec<std::ffi::CString> = std::iter::once("sim")
            .chain(args.iter().copied())
            .map(|a| std::ffi::CString::new(a).expect("no NUL in plusargs"))
            .collect();
        let p: Vec<*const core::ffi::c_char> = c.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: valid handle; Verilator copies the strings.
        unsafe { vl_@N@_command_args(self.h, p.len() as i32, p.as_ptr()) }
    }

    /// Simulation time (half clock periods since creation).
    pub fn time(&self) -> u64 {
        // SAFETY: valid handle.
        unsafe { vl_@N@_time(self.h) }
    }

    /// Opens an FST trace file; later `tick`s and `run`s dump every half period. @OPEN@
    pub fn open_trace(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: valid handle, NUL-terminated path.
        let ok = unsafe { vl_@N@_trace_open(self.h, c.as_ptr(), 99) };
        self.bind_ports();
        match ok {
            1 => Ok(()),
            -1 => Err(std::io::Error::other(
                "@T@: open_trace must come before the first eval/tick/run (the traced build is swapped in then)",
            )),
            _ => Err(std::io::Error::other(format!(
                "cannot open trace {}",
                path.display()
            ))),
        }
    }

    /// Writes buffered trace data to the file.
    pub fn flush_trace(&mut self) {
        // SAFETY: valid handle.
        unsafe { vl_@N@_flush(self.h) }
    }

    /// One clock period: `@CLK@=0; eval; @CLK@=1; eval` (inputs set before the call are
    /// sampled by the rising edge; registered outputs change with it).
    pub fn tick(&mut self) {
        // SAFETY: valid handle.
        unsafe { vl_@N@_tick(self.h) }
    }

    /// Up to `max` clock periods, each as [`Self::tick`], in one call into the model; stops
    /// early after a period that leaves any output selected by `stop` (a mask of the
    /// `STOP_*` constants, 0: none) non-zero. Returns the periods run.
    pub fn run(&mut self, max: u64, stop: u64) -> u64 {
        // SAFETY: valid handle.
        unsafe { vl_@N@_run(self.h, max, stop) }
    }
@PORTS@}

impl Drop for @T@ {
    fn drop(&mut self) {
        // SAFETY: valid handle, dropped once.
        unsafe { vl_@N@_delete(self.h) }
    }
}
"#;

/// Generates the typed Rust wrapper of a model.
pub fn rust_wrapper(m: &Model, ports: &[Port]) -> String {
    let (mut fields, mut nulls, mut bind, mut stops, mut acc) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for (i, p) in ports.iter().enumerate() {
        let ty = if p.storage == 0 {
            "u32".into()
        } else {
            rust_type(p)
        };
        let _ = writeln!(fields, "    p_{}: *mut {ty},", p.name);
        let _ = writeln!(nulls, "            p_{}: core::ptr::null_mut(),", p.name);
        let _ = writeln!(
            bind,
            "            self.p_{} = vl_{}_port(self.h, {i}).cast();",
            p.name, m.name
        );
    }
    for (k, p) in stop_ports(ports).iter().enumerate() {
        let _ = writeln!(
            stops,
            "    /// [`Self::run`] stops after a period that leaves output `{}` non-zero.\n    pub const STOP_{}: u64 = 1 << {k};",
            p.name,
            p.name.to_uppercase()
        );
    }
    for p in ports {
        let ty = rust_type(p);
        let pn = &p.name;
        if p.dir != Dir::In {
            let _ = writeln!(
                acc,
                "\n    /// Output `{pn}` ({} bits).\n    #[inline]",
                p.width
            );
            if p.storage == 0 {
                let w = p.words;
                let _ = writeln!(
                    acc,
                    "    pub fn {pn}(&self) -> {ty} {{\n        let mut v = [0u32; {w}];\n        \
                     // SAFETY: the port is {w} words long.\n        \
                     unsafe {{ std::ptr::copy_nonoverlapping(self.p_{pn}, v.as_mut_ptr(), {w}) }};\n        v\n    }}"
                );
            } else {
                let _ = writeln!(
                    acc,
                    "    pub fn {pn}(&self) -> {ty} {{\n        // SAFETY: valid port pointer.\n        unsafe {{ *self.p_{pn} }}\n    }}"
                );
            }
        }
        if p.dir != Dir::Out {
            let _ = writeln!(
                acc,
                "\n    /// Sets input `{pn}` ({} bits; higher bits are masked off).\n    #[inline]",
                p.width
            );
            if p.storage == 0 {
                let w = p.words;
                let top_bits = p.width - 32 * (w - 1);
                let mask = if top_bits == 32 {
                    u32::MAX
                } else {
                    (1u32 << top_bits) - 1
                };
                let _ = writeln!(
                    acc,
                    "    pub fn set_{pn}(&mut self, v: &{ty}) {{\n        let mut v = *v;\n        v[{}] &= {mask:#x};\n        \
                     // SAFETY: the port is {w} words long.\n        \
                     unsafe {{ std::ptr::copy_nonoverlapping(v.as_ptr(), self.p_{pn}, {w}) }}\n    }}",
                    w - 1
                );
            } else {
                let mask: u64 = if p.width >= 64 {
                    u64::MAX
                } else {
                    (1u64 << p.width) - 1
                };
                let _ = writeln!(
                    acc,
                    "    pub fn set_{pn}(&mut self, v: {ty}) {{\n        // SAFETY: valid port pointer.\n        unsafe {{ *self.p_{pn} = v & ({mask:#x} as {ty}) }}\n    }}"
                );
            }
        }
    }
    let (trace, open) = match m.trace {
        Trace::Always => ("built in", "Any time."),
        Trace::Twin => (
            "a separately built twin, swapped in by `open_trace`",
            "Only before the first\n    /// `eval`/`tick`/`run`: the model is built twice, without tracing code (faster) and with it.",
        ),
    };
    WRAPPER
        .replace("@TOP@", m.top)
        .replace("@TRACE@", trace)
        .replace("@OPEN@", open)
        .replace("@T@", m.rust_type)
        .replace("@N@", m.name)
        .replace("@CLK@", m.clock)
        .replace("@FIELDS@", &fields)
        .replace("@NULLS@", &nulls)
        .replace("@BIND@", &bind)
        .replace("@STOPS@", &stops)
        .replace("@PORTS@", &acc)
}

/// Link lines shared by all models (after every model's own).
pub fn link_runtime(env: &Env) {
    println!(
        "cargo:rustc-link-search=native={}",
        env.out_dir.join("rt").display()
    );
    println!("cargo:rustc-link-lib=static=verilated_rt");
    println!("cargo:rustc-link-lib=dylib=z");
    println!("cargo:rustc-link-lib=dylib=atomic");
    println!("cargo:rustc-link-lib=dylib=stdc++");
}
