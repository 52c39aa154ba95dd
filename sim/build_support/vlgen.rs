// Build support for Verilator models (used by sim/build.rs; plain std + the `cc` crate).
//
// Per model: `verilator --cc --build` into OUT_DIR/vl_<name> with prefix V<name>, parse the
// ports from V<name>.h, write a C++ shim (one VerilatedContext per instance) and a typed Rust
// wrapper. Once per crate: the Verilator runtime (verilated.o, verilated_threads.o,
// verilated_fst_c.o built with the first model's makefile), archived as libverilated_rt.a and
// kept across rebuilds (it only depends on the Verilator installation).
//
// Tested with Verilator 5.006 (Debian 12).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One Verilated model.
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
}

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

/// The PicoRV32 RTL directory: `$PICORV32_DIR`, else the `pythondata-cpu-picorv32` package in
/// the project venv (`.venv/bin/python -c "import pythondata_cpu_picorv32 as p; ..."`).
pub fn picorv32_dir(root: &Path) -> Option<PathBuf> {
    if let Ok(d) = std::env::var("PICORV32_DIR") {
        return Some(PathBuf::from(d));
    }
    let out = Command::new(root.join(".venv/bin/python"))
        .args([
            "-c",
            "import pythondata_cpu_picorv32 as p; print(p.data_location)",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Reads a file list: one path per line relative to the workspace root; a leading `$PICORV32/`
/// stands for [`picorv32_dir`].
pub fn read_filelist(root: &Path, filelist: &str) -> Vec<PathBuf> {
    let path = root.join(filelist);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| match l.strip_prefix("$PICORV32/") {
            Some(rest) => picorv32_dir(root)
                .unwrap_or_else(|| {
                    panic!("{filelist}: PicoRV32 RTL not found (set PICORV32_DIR or run scripts/setup.sh)")
                })
                .join(rest),
            None => root.join(l),
        })
        .collect()
}

/// Verilates and compiles one model; returns its ports.
pub fn build_model(env: &Env, m: &Model, extra_files: &[PathBuf]) -> Vec<Port> {
    let mdir = env.out_dir.join(format!("vl_{}", m.name));
    let _ = std::fs::remove_dir_all(&mdir);
    std::fs::create_dir_all(&mdir).unwrap();
    let prefix = format!("V{}", m.name);
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
    .args([
        "--x-assign",
        "fast",
        "--x-initial",
        "fast",
        "--noassert",
        "--trace-fst",
    ])
    .arg("-Mdir")
    .arg(&mdir)
    .args(["--top-module", m.top, "--prefix", &prefix])
    .args([
        "-CFLAGS",
        "-fPIC",
        "-MAKEFLAGS",
        "OPT_FAST=-O3 OPT_SLOW=-O1 OPT_GLOBAL=-O2",
    ])
    .args(m.args)
    .args(extra_files)
    .args(read_filelist(&env.root, m.filelist));
    // Lint is owned by the lint tests; keep the build log quiet.
    cmd.arg("-Wno-lint").arg("-Wno-style");
    run(&mut cmd, &format!("verilator ({})", m.name));
    std::fs::copy(
        mdir.join(format!("{prefix}__ALL.a")),
        mdir.join(format!("lib{prefix}__ALL.a")),
    )
    .expect("copy model archive");
    parse_ports(&mdir.join(format!("{prefix}.h")))
}

/// Builds (once) the Verilator runtime archive next to the models, using a model's makefile.
pub fn build_runtime(env: &Env, any_model: &Model, version: &str) {
    let rt = env.out_dir.join("rt");
    let stamp = rt.join("stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(version)
        && rt.join("libverilated_rt.a").exists()
    {
        return;
    }
    let mdir = env.out_dir.join(format!("vl_{}", any_model.name));
    let objs = ["verilated.o", "verilated_threads.o", "verilated_fst_c.o"];
    run(
        Command::new("make")
            .arg("-C")
            .arg(&mdir)
            .args([
                "-j",
                &env.jobs,
                "-f",
                &format!("V{}.mk", any_model.name),
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
    std::fs::write(&stamp, version).unwrap();
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

/// Writes and compiles the C++ shim of a model.
pub fn build_shim(env: &Env, m: &Model, ports: &[Port]) {
    let v = format!("V{}", m.name);
    let n = m.name;
    let mut s = format!(
        "// Generated by sim/build_support/vlgen.rs; do not edit.\n\
         #include \"{v}.h\"\n#include \"verilated.h\"\n#include \"verilated_fst_c.h\"\n\
         #include <cstdint>\n\
         namespace {{ struct H {{ VerilatedContext* ctx; {v}* m; VerilatedFstC* tfp; }}; }}\n\
         extern \"C\" {{\n\
         void* vl_{n}_new() {{\n  H* h = new H;\n  h->ctx = new VerilatedContext;\n  h->ctx->traceEverOn(true);\n\
           h->m = new {v}(h->ctx, \"TOP\");\n  h->tfp = nullptr;\n  return h;\n}}\n\
         void vl_{n}_delete(void* p) {{\n  H* h = static_cast<H*>(p);\n  h->m->final();\n\
           if (h->tfp) {{ h->tfp->close(); delete h->tfp; }}\n  delete h->m;\n  delete h->ctx;\n  delete h;\n}}\n\
         void vl_{n}_eval(void* p) {{ static_cast<H*>(p)->m->eval(); }}\n\
         void vl_{n}_command_args(void* p, int argc, const char** argv) {{ static_cast<H*>(p)->ctx->commandArgs(argc, argv); }}\n\
         void vl_{n}_set_time(void* p, uint64_t t) {{ static_cast<H*>(p)->ctx->time(t); }}\n\
         int vl_{n}_trace_open(void* p, const char* path, int levels) {{\n  H* h = static_cast<H*>(p);\n\
           if (h->tfp) {{ h->tfp->close(); delete h->tfp; }}\n  h->tfp = new VerilatedFstC;\n\
           h->m->trace(h->tfp, levels);\n  h->tfp->open(path);\n  return h->tfp->isOpen() ? 1 : 0;\n}}\n\
         void vl_{n}_dump(void* p, uint64_t t) {{ H* h = static_cast<H*>(p); if (h->tfp) h->tfp->dump(t); }}\n\
         void vl_{n}_flush(void* p) {{ H* h = static_cast<H*>(p); if (h->tfp) h->tfp->flush(); }}\n\
         void* vl_{n}_port(void* p, int i) {{\n  H* h = static_cast<H*>(p);\n  switch (i) {{\n"
    );
    for (i, p) in ports.iter().enumerate() {
        let _ = writeln!(
            s,
            "    case {i}: return static_cast<void*>(&h->m->{}); // {}",
            p.name,
            c_type(p)
        );
    }
    s.push_str("    default: return nullptr;\n  }\n}\n}\n");
    let path = env.out_dir.join(format!("{n}_shim.cpp"));
    std::fs::write(&path, s).unwrap();
    let mdir = env.out_dir.join(format!("vl_{n}"));
    cc::Build::new()
        .cpp(true)
        .file(&path)
        .include(&mdir)
        .include(env.vroot.join("include"))
        .include(env.vroot.join("include/vltstd"))
        .flag("-std=gnu++17")
        .flag("-Wno-unused-parameter")
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .opt_level(2)
        .compile(&format!("{n}_shim"));
    println!("cargo:rustc-link-search=native={}", mdir.display());
    println!("cargo:rustc-link-lib=static=V{n}__ALL");
}

/// Generates the typed Rust wrapper of a model.
pub fn rust_wrapper(m: &Model, ports: &[Port]) -> String {
    let n = m.name;
    let t = m.rust_type;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/// Verilated `{}` (prefix `V{n}`): raw port access, `eval`, `tick`, FST tracing.",
        m.top
    );
    let _ = writeln!(s, "///\n/// Each instance owns its own `VerilatedContext`, so instances on different threads are");
    let _ = writeln!(
        s,
        "/// independent. Generated by `sim/build_support/vlgen.rs`."
    );
    let _ = writeln!(
        s,
        "pub struct {t} {{\n    h: *mut core::ffi::c_void,\n    time: u64,\n    tracing: bool,"
    );
    for p in ports {
        let _ = writeln!(
            s,
            "    p_{}: *mut {},",
            p.name,
            if p.storage == 0 {
                "u32".into()
            } else {
                rust_type(p)
            }
        );
    }
    s.push_str("}\n\n");
    let _ = writeln!(s, "unsafe extern \"C\" {{");
    let _ = writeln!(s, "    fn vl_{n}_new() -> *mut core::ffi::c_void;");
    let _ = writeln!(s, "    fn vl_{n}_delete(h: *mut core::ffi::c_void);");
    let _ = writeln!(s, "    fn vl_{n}_eval(h: *mut core::ffi::c_void);");
    let _ = writeln!(s, "    fn vl_{n}_command_args(h: *mut core::ffi::c_void, argc: i32, argv: *const *const core::ffi::c_char);");
    let _ = writeln!(
        s,
        "    fn vl_{n}_set_time(h: *mut core::ffi::c_void, t: u64);"
    );
    let _ = writeln!(s, "    fn vl_{n}_trace_open(h: *mut core::ffi::c_void, path: *const core::ffi::c_char, levels: i32) -> i32;");
    let _ = writeln!(s, "    fn vl_{n}_dump(h: *mut core::ffi::c_void, t: u64);");
    let _ = writeln!(s, "    fn vl_{n}_flush(h: *mut core::ffi::c_void);");
    let _ = writeln!(
        s,
        "    fn vl_{n}_port(h: *mut core::ffi::c_void, i: i32) -> *mut core::ffi::c_void;"
    );
    s.push_str("}\n\n");
    let _ = writeln!(
        s,
        "// SAFETY: the model is only reachable through `&mut self`; its context is private."
    );
    let _ = writeln!(s, "unsafe impl Send for {t} {{}}\n");
    let _ = writeln!(
        s,
        "impl Default for {t} {{\n    fn default() -> Self {{\n        Self::new()\n    }}\n}}\n"
    );
    let _ = writeln!(s, "impl {t} {{");
    let _ = writeln!(
        s,
        "    /// Creates a model in its own context (all inputs 0, nothing evaluated yet)."
    );
    let _ = writeln!(s, "    pub fn new() -> Self {{");
    let _ = writeln!(s, "        // SAFETY: the shim returns a valid handle and stable pointers to the model's ports.");
    let _ = writeln!(
        s,
        "        unsafe {{\n            let h = vl_{n}_new();\n            assert!(!h.is_null());"
    );
    let _ = writeln!(s, "            Self {{\n                h,\n                time: 0,\n                tracing: false,");
    for (i, p) in ports.iter().enumerate() {
        let _ = writeln!(
            s,
            "                p_{}: vl_{n}_port(h, {i}).cast(),",
            p.name
        );
    }
    s.push_str("            }\n        }\n    }\n\n");
    let _ = writeln!(s, "    /// Evaluates the model with the current inputs.");
    let _ = writeln!(s, "    pub fn eval(&mut self) {{\n        // SAFETY: valid handle.\n        unsafe {{ vl_{n}_eval(self.h) }}\n    }}\n");
    let _ = writeln!(s, "    /// Sets the plusargs (`+name=value`) the RTL reads with `$value$plusargs`; call before the");
    let _ = writeln!(s, "    /// first `eval`/`tick` (initial blocks run then).");
    let _ = writeln!(
        s,
        "    pub fn set_command_args(&mut self, args: &[&str]) {{"
    );
    let _ = writeln!(s, "        let c: Vec<std::ffi::CString> = std::iter::once(\"sim\").chain(args.iter().copied())");
    let _ = writeln!(
        s,
        "            .map(|a| std::ffi::CString::new(a).expect(\"no NUL in plusargs\")).collect();"
    );
    let _ = writeln!(
        s,
        "        let p: Vec<*const core::ffi::c_char> = c.iter().map(|a| a.as_ptr()).collect();"
    );
    let _ = writeln!(
        s,
        "        // SAFETY: valid handle; Verilator copies the strings."
    );
    let _ = writeln!(
        s,
        "        unsafe {{ vl_{n}_command_args(self.h, p.len() as i32, p.as_ptr()) }}"
    );
    let _ = writeln!(s, "    }}\n");
    let _ = writeln!(
        s,
        "    /// Simulation time (half clock periods since creation)."
    );
    let _ = writeln!(
        s,
        "    pub fn time(&self) -> u64 {{\n        self.time\n    }}\n"
    );
    let _ = writeln!(
        s,
        "    /// Opens an FST trace file; later `tick`s dump every half period."
    );
    let _ = writeln!(
        s,
        "    pub fn open_trace(&mut self, path: &std::path::Path) -> std::io::Result<()> {{"
    );
    let _ = writeln!(s, "        use std::os::unix::ffi::OsStrExt;");
    let _ = writeln!(
        s,
        "        let c = std::ffi::CString::new(path.as_os_str().as_bytes())"
    );
    let _ = writeln!(
        s,
        "            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;"
    );
    let _ = writeln!(s, "        // SAFETY: valid handle, NUL-terminated path.");
    let _ = writeln!(
        s,
        "        let ok = unsafe {{ vl_{n}_trace_open(self.h, c.as_ptr(), 99) }};"
    );
    let _ = writeln!(s, "        if ok == 0 {{\n            return Err(std::io::Error::other(format!(\"cannot open trace {{}}\", path.display())));\n        }}");
    let _ = writeln!(s, "        self.tracing = true;\n        Ok(())\n    }}\n");
    let _ = writeln!(s, "    /// Writes buffered trace data to the file.");
    let _ = writeln!(s, "    pub fn flush_trace(&mut self) {{\n        // SAFETY: valid handle.\n        unsafe {{ vl_{n}_flush(self.h) }}\n    }}\n");
    let _ = writeln!(s, "    fn dump(&mut self) {{");
    let _ = writeln!(s, "        if self.tracing {{\n            // SAFETY: valid handle.\n            unsafe {{\n                vl_{n}_set_time(self.h, self.time);\n                vl_{n}_dump(self.h, self.time);\n            }}\n        }}");
    let _ = writeln!(s, "        self.time += 1;\n    }}\n");
    let _ = writeln!(
        s,
        "    /// One clock period: `{c}=0; eval; {c}=1; eval` (inputs set before the call are",
        c = m.clock
    );
    let _ = writeln!(
        s,
        "    /// sampled by the rising edge; registered outputs change with it)."
    );
    let _ = writeln!(s, "    pub fn tick(&mut self) {{");
    let _ = writeln!(
        s,
        "        self.set_{}(0);\n        self.eval();\n        self.dump();",
        m.clock
    );
    let _ = writeln!(
        s,
        "        self.set_{}(1);\n        self.eval();\n        self.dump();\n    }}",
        m.clock
    );
    for p in ports {
        let ty = rust_type(p);
        let pn = &p.name;
        if p.dir != Dir::In {
            let _ = writeln!(s, "\n    /// Output `{pn}` ({} bits).", p.width);
            if p.storage == 0 {
                let _ = writeln!(
                    s,
                    "    pub fn {pn}(&self) -> {ty} {{\n        let mut v = [0u32; {}];",
                    p.words
                );
                let _ = writeln!(s, "        // SAFETY: the port is {} words long.", p.words);
                let _ = writeln!(s, "        unsafe {{ std::ptr::copy_nonoverlapping(self.p_{pn}, v.as_mut_ptr(), {}) }};\n        v\n    }}", p.words);
            } else {
                let _ = writeln!(s, "    pub fn {pn}(&self) -> {ty} {{\n        // SAFETY: valid port pointer.\n        unsafe {{ *self.p_{pn} }}\n    }}");
            }
        }
        if p.dir != Dir::Out {
            let _ = writeln!(
                s,
                "\n    /// Sets input `{pn}` ({} bits; higher bits are masked off).",
                p.width
            );
            if p.storage == 0 {
                let top_bits = p.width - 32 * (p.words - 1);
                let mask = if top_bits == 32 {
                    u32::MAX
                } else {
                    (1u32 << top_bits) - 1
                };
                let _ = writeln!(s, "    pub fn set_{pn}(&mut self, v: &{ty}) {{\n        let mut v = *v;\n        v[{}] &= {mask:#x};", p.words - 1);
                let _ = writeln!(s, "        // SAFETY: the port is {} words long.", p.words);
                let _ = writeln!(s, "        unsafe {{ std::ptr::copy_nonoverlapping(v.as_ptr(), self.p_{pn}, {}) }}\n    }}", p.words);
            } else {
                let mask: u64 = if p.width >= 64 {
                    u64::MAX
                } else {
                    (1u64 << p.width) - 1
                };
                let _ = writeln!(s, "    pub fn set_{pn}(&mut self, v: {ty}) {{\n        // SAFETY: valid port pointer.\n        unsafe {{ *self.p_{pn} = v & ({mask:#x} as {ty}) }}\n    }}");
            }
        }
    }
    s.push_str("}\n\n");
    let _ = writeln!(s, "impl Drop for {t} {{\n    fn drop(&mut self) {{\n        // SAFETY: valid handle, dropped once.\n        unsafe {{ vl_{n}_delete(self.h) }}\n    }}\n}}");
    s
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
