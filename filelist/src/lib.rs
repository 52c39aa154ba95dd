//! The RTL file lists (`rtl/accel.f`, `rtl/pengine.f`, `rtl/soc.f`,
//! `rtl/board/icebreaker/sources.f`) and where PicoRV32's Verilog lives: the one reader, shared
//! by `sim/build.rs` (a build-dependency, hence no dependencies of its own), the host's
//! `cnnfpga fpga build` and the lint tests. `rtl/synth_check.sh` reads the same format in bash;
//! `sim/tests/synth_area.rs` checks that both readers agree.
//!
//! Format, one entry per line, paths relative to the repository root:
//! - `path/to/file.sv`: a source file, in read order;
//! - `$PICORV32/file.v`: a file in [`picorv32_dir`] (third-party, never copied into the repo);
//! - `-f path/to/other.f`: the entries of another list, in place (recursively);
//! - blank lines and lines starting with `#` or `//` are ignored, as is anything after ` #`.
//!
//! A file reached twice (two included lists that both start with the package, for example) is
//! read once, at its first position.
#![deny(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

/// The prefix of entries in PicoRV32's directory.
pub const PICORV32_PREFIX: &str = "$PICORV32/";

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
    /// The list names `$PICORV32/` files and PicoRV32's directory was not found.
    NoPicorv32 {
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
            Error::NoPicorv32 { reason } => write!(
                f,
                "PicoRV32 RTL not found ({reason}): set PICORV32_DIR or run scripts/setup.sh"
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
    /// The entries as written (`rtl/...` or `$PICORV32/...`), in read order, each once.
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
    /// The entries as paths: `rtl/...` under `root`, `$PICORV32/...` under `picorv32` (asked
    /// for only when the list names such a file); each must exist.
    pub fn files(
        &self,
        root: &Path,
        picorv32: impl FnOnce() -> Result<PathBuf, Error>,
    ) -> Result<Vec<PathBuf>, Error> {
        let mut pico = None;
        let mut picorv32 = Some(picorv32);
        let mut files = Vec::with_capacity(self.entries.len());
        for (e, list) in self.entries.iter().zip(&self.origin) {
            let p = match e.strip_prefix(PICORV32_PREFIX) {
                Some(rest) => {
                    if pico.is_none() {
                        pico = Some((picorv32.take().expect("called once"))()?);
                    }
                    pico.as_ref().expect("set above").join(rest)
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

/// The files of `list` under `root`, `$PICORV32/` resolved with [`picorv32_dir`].
pub fn files(root: &Path, list: &str) -> Result<Vec<PathBuf>, Error> {
    entries(root, list)?.files(root, || picorv32_dir(root))
}

/// The PicoRV32/picosoc Verilog directory: `$PICORV32_DIR`, else what the project venv's
/// `pythondata_cpu_picorv32` package reports (`.venv/bin/python -c "import
/// pythondata_cpu_picorv32 as p; print(p.data_location)"`, installed by scripts/setup.sh).
pub fn picorv32_dir(root: &Path) -> Result<PathBuf, Error> {
    if let Some(d) = std::env::var_os("PICORV32_DIR") {
        return Ok(PathBuf::from(d));
    }
    let py = root.join(".venv/bin/python");
    let out = std::process::Command::new(&py)
        .args([
            "-c",
            "import pythondata_cpu_picorv32 as p; print(p.data_location)",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let d = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if d.join("picorv32.v").is_file() {
                Ok(d)
            } else {
                Err(Error::NoPicorv32 {
                    reason: format!("no picorv32.v in {}", d.display()),
                })
            }
        }
        _ => Err(Error::NoPicorv32 {
            reason: format!(
                "{} -c 'import pythondata_cpu_picorv32' failed",
                py.display()
            ),
        }),
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
        let files = l.files(&root, || Ok(root.join("pico"))).unwrap();
        assert_eq!(files[0], root.join("pkg.sv"));
        assert_eq!(files[5], root.join("pico/cpu.v"));
        // PicoRV32 is looked up only when a list needs it
        let a = entries(&root, "a.f").unwrap();
        assert!(a
            .files(&root, || Err(Error::NoPicorv32 { reason: "x".into() }))
            .is_ok());
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
                .and_then(|x| x.files(&root, || Ok(root.clone())))
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
