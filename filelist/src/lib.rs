//! The RTL file lists (`rtl/accel.f`, `rtl/pengine.f`, `rtl/soc.f`,
//! `rtl/board/icebreaker/sources.f`) and where the CPUs' Verilog lives: the one reader, shared
//! by `sim/build.rs` (a build-dependency, hence no dependencies of its own), the host's
//! `cnnfpga fpga build` and the lint tests. `rtl/synth_check.sh` reads the same format in bash;
//! `sim/tests/synth_area.rs` checks that both readers agree.
//!
//! Format, one entry per line, paths relative to the repository root:
//! - `path/to/file.sv`: a source file, in read order;
//! - `$PICORV32/file.v`, `$SERV/file.v`: a file in a third-party package's directory
//!   ([`Vendor`], [`vendor_dir`]; installed by scripts/setup.sh, never copied into the repo);
//! - `-f path/to/other.f`: the entries of another list, in place (recursively);
//! - blank lines and lines starting with `#` or `//` are ignored, as is anything after ` #`.
//!
//! A file reached twice (two included lists that both start with the package, for example) is
//! read once, at its first position.
#![deny(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

/// A third-party RTL package a list can name files of (`$PICORV32/`, `$SERV/`): a pinned
/// PyPI `pythondata-cpu-*` wheel in the project venv, or a directory from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// PicoRV32 and picosoc (`pythondata_cpu_picorv32`, `$PICORV32_DIR`).
    Picorv32,
    /// SERV (`pythondata_cpu_serv`, `$SERV_DIR`).
    Serv,
}

impl Vendor {
    /// Every package, in prefix order.
    pub const ALL: [Vendor; 2] = [Vendor::Picorv32, Vendor::Serv];

    /// The entry prefix (`$PICORV32/`, `$SERV/`).
    pub fn prefix(self) -> &'static str {
        match self {
            Vendor::Picorv32 => "$PICORV32/",
            Vendor::Serv => "$SERV/",
        }
    }

    /// The environment variable that overrides the venv lookup.
    pub fn env_var(self) -> &'static str {
        match self {
            Vendor::Picorv32 => "PICORV32_DIR",
            Vendor::Serv => "SERV_DIR",
        }
    }

    /// The Python module whose `data_location` is the Verilog directory.
    pub fn module(self) -> &'static str {
        match self {
            Vendor::Picorv32 => "pythondata_cpu_picorv32",
            Vendor::Serv => "pythondata_cpu_serv",
        }
    }

    /// A file the directory must hold.
    fn marker(self) -> &'static str {
        match self {
            Vendor::Picorv32 => "picorv32.v",
            Vendor::Serv => "rtl/serv_top.v",
        }
    }

    /// The display name.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Picorv32 => "PicoRV32",
            Vendor::Serv => "SERV",
        }
    }

    /// The package of `entry` and the path inside it, if `entry` names a vendor file.
    pub fn split(entry: &str) -> Option<(Vendor, &str)> {
        Self::ALL
            .into_iter()
            .find_map(|v| entry.strip_prefix(v.prefix()).map(|rest| (v, rest)))
    }
}

/// What went wrong reading a list.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A list could not be read.
    Read {
        /// The list.
        list: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A list includes itself, directly or through others.
    Cycle {
        /// The list that was reached again.
        list: PathBuf,
    },
    /// A `-f` line without a path.
    BadLine {
        /// The list.
        list: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The line.
        text: String,
    },
    /// A listed file does not exist.
    Missing {
        /// The file.
        file: PathBuf,
        /// The list that names it.
        list: PathBuf,
    },
    /// The list names files of a third-party package whose directory was not found.
    NoVendor {
        /// The package.
        vendor: Vendor,
        /// Why not.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { list, source } => write!(f, "reading {}: {source}", list.display()),
            Error::Cycle { list } => write!(f, "{} includes itself (-f)", list.display()),
            Error::BadLine { list, line, text } => {
                write!(f, "{}:{line}: `{text}`: -f needs a path", list.display())
            }
            Error::Missing { file, list } => write!(
                f,
                "{} (listed in {}) does not exist",
                file.display(),
                list.display()
            ),
            Error::NoVendor { vendor, reason } => write!(
                f,
                "{} RTL not found ({reason}): set {} or run scripts/setup.sh",
                vendor.name(),
                vendor.env_var()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A list with its `-f` includes expanded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The entries as written (`rtl/...`, `$PICORV32/...` or `$SERV/...`), in read order, each
    /// once.
    pub entries: Vec<String>,
    /// Every list read (the top one first), relative to the root: what a build depends on.
    pub lists: Vec<String>,
    /// For each entry, the list that names it.
    origin: Vec<String>,
}

/// Reads `list` (relative to `root`) and the lists it includes.
pub fn entries(root: &Path, list: &str) -> Result<Listing, Error> {
    let mut out = Listing::default();
    let mut stack = Vec::new();
    expand(root, list, &mut out, &mut stack)?;
    Ok(out)
}

fn expand(
    root: &Path,
    list: &str,
    out: &mut Listing,
    stack: &mut Vec<String>,
) -> Result<(), Error> {
    let path = root.join(list);
    if stack.iter().any(|l| l == list) {
        return Err(Error::Cycle { list: path });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        list: path.clone(),
        source,
    })?;
    stack.push(list.to_string());
    if !out.lists.iter().any(|l| l == list) {
        out.lists.push(list.to_string());
    }
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("-f") {
            let inc = rest.trim();
            if inc.is_empty() || !rest.starts_with(char::is_whitespace) {
                return Err(Error::BadLine {
                    list: path,
                    line: i + 1,
                    text: raw.to_string(),
                });
            }
            expand(root, inc, out, stack)?;
        } else if !out.entries.iter().any(|e| e == line) {
            out.entries.push(line.to_string());
            out.origin.push(list.to_string());
        }
    }
    stack.pop();
    Ok(())
}

impl Listing {
    /// The entries as paths: `rtl/...` under `root`, a vendor's (`$PICORV32/...`, `$SERV/...`)
    /// under `vendor(v)` (asked for once per package, only when the list names its files); each
    /// must exist.
    pub fn files(
        &self,
        root: &Path,
        mut vendor: impl FnMut(Vendor) -> Result<PathBuf, Error>,
    ) -> Result<Vec<PathBuf>, Error> {
        let mut dirs: Vec<(Vendor, PathBuf)> = Vec::new();
        let mut files = Vec::with_capacity(self.entries.len());
        for (e, list) in self.entries.iter().zip(&self.origin) {
            let p = match Vendor::split(e) {
                Some((v, rest)) => {
                    let i = match dirs.iter().position(|(d, _)| *d == v) {
                        Some(i) => i,
                        None => {
                            dirs.push((v, vendor(v)?));
                            dirs.len() - 1
                        }
                    };
                    dirs[i].1.join(rest)
                }
                None => root.join(e),
            };
            if !p.is_file() {
                return Err(Error::Missing {
                    file: p,
                    list: root.join(list),
                });
            }
            files.push(p);
        }
        Ok(files)
    }
}

/// The files of `list` under `root`, vendor entries resolved with [`vendor_dir`].
pub fn files(root: &Path, list: &str) -> Result<Vec<PathBuf>, Error> {
    entries(root, list)?.files(root, |v| vendor_dir(root, v))
}

/// A third-party package's Verilog directory: `$PICORV32_DIR` / `$SERV_DIR`, else what the
/// project venv's `pythondata_cpu_*` package reports (`.venv/bin/python -c "import
/// pythondata_cpu_picorv32 as p; print(p.data_location)"`, installed by scripts/setup.sh).
pub fn vendor_dir(root: &Path, vendor: Vendor) -> Result<PathBuf, Error> {
    if let Some(d) = std::env::var_os(vendor.env_var()) {
        return Ok(PathBuf::from(d));
    }
    let py = root.join(".venv/bin/python");
    let out = std::process::Command::new(&py)
        .args([
            "-c",
            &format!("import {} as p; print(p.data_location)", vendor.module()),
        ])
        .output();
    let no = |reason: String| Error::NoVendor { vendor, reason };
    match out {
        Ok(o) if o.status.success() => {
            let d = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if d.join(vendor.marker()).is_file() {
                Ok(d)
            } else {
                Err(no(format!("no {} in {}", vendor.marker(), d.display())))
            }
        }
        _ => Err(no(format!(
            "{} -c 'import {}' failed",
            py.display(),
            vendor.module()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch tree of `files` (path, contents) named after the test.
    fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cnnfpga-filelist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (p, text) in files {
            let p = dir.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn includes_expand_in_place_and_repeats_are_read_once() {
        let root = tree(
            "include",
            &[
                ("a.f", "# comment\npkg.sv\na.sv  # trailing\n"),
                ("b.f", "// c\npkg.sv\nb.sv\n"),
                (
                    "top.f",
                    "-f a.f\nmid.sv\n\n-f b.f\ntop.sv\n$PICORV32/cpu.v\n",
                ),
                ("pkg.sv", ""),
                ("a.sv", ""),
                ("b.sv", ""),
                ("mid.sv", ""),
                ("top.sv", ""),
                ("pico/cpu.v", ""),
            ],
        );
        let l = entries(&root, "top.f").unwrap();
        assert_eq!(
            l.entries,
            [
                "pkg.sv",
                "a.sv",
                "mid.sv",
                "b.sv",
                "top.sv",
                "$PICORV32/cpu.v"
            ]
        );
        assert_eq!(l.lists, ["top.f", "a.f", "b.f"]);
        let files = l
            .files(&root, |v| {
                assert_eq!(v, Vendor::Picorv32);
                Ok(root.join("pico"))
            })
            .unwrap();
        assert_eq!(files[0], root.join("pkg.sv"));
        assert_eq!(files[5], root.join("pico/cpu.v"));
        // a package is looked up only when a list needs it
        let a = entries(&root, "a.f").unwrap();
        let none = |vendor| {
            Err(Error::NoVendor {
                vendor,
                reason: "x".into(),
            })
        };
        assert!(a.files(&root, none).is_ok());
        let e = l.files(&root, none).unwrap_err().to_string();
        assert!(
            e.starts_with("PicoRV32 RTL not found (x): set PICORV32_DIR"),
            "{e}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn bad_lists_are_clear_errors() {
        let root = tree(
            "bad",
            &[
                ("loop.f", "-f loop2.f\n"),
                ("loop2.f", "-f loop.f\n"),
                ("bare.f", "-f\n"),
                ("missing.f", "nothere.sv\n"),
                ("glued.f", "-fx.f\n"),
            ],
        );
        let msg = |l: &str| {
            entries(&root, l)
                .and_then(|x| x.files(&root, |_| Ok(root.clone())))
                .unwrap_err()
                .to_string()
        };
        assert!(
            msg("loop.f").contains("loop.f includes itself"),
            "{}",
            msg("loop.f")
        );
        assert!(msg("bare.f").contains("bare.f:1"));
        assert!(msg("glued.f").contains("glued.f:1"));
        assert!(msg("missing.f").contains("nothere.sv (listed in"));
        assert!(msg("absent.f").starts_with("reading "));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
