//! Output directories (`--out`) of every command that writes one: the one place that decides
//! whether an existing path may be replaced, and that replaces it atomically.
//!
//! Rules ([`OutDir::prepare`]):
//! * an `--out` that is equal to, or contains, an input path (`--data`, `--model`,
//!   `--init-from`, ...) is always refused, even with `--force`; so is an `--out` inside an
//!   input, except where the input is declared [`Input::allow_inside`] (export's golden vectors
//!   live inside the quantised model directory they are exported from);
//! * an existing *file* at `--out` is always refused (outputs are directories);
//! * an existing non-empty directory is replaced only if it is a previous output of the same
//!   command, recognised by the metadata that command writes ([`Producer::recognises`]);
//!   anything else is refused with one line naming the path, unless `--force`.
//!
//! Writing: [`OutDir::write_files`] (the file list at once) or [`OutDir::stage`] (a sibling
//! temporary directory the command fills, then [`Staging::commit`]). Both build the new
//! directory beside the target and rename it into place, so an interrupted or failed run
//! leaves the old output or the new one, never a mix; a failed run leaves the old one.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::model::write_dir_atomic;

/// Errors of output-directory checks and writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutDirError {
    /// `--out` is an input, holds one, or lies inside one.
    #[error("{option} {out} {relation} the {flag} input {input}: refusing to write there (even with --force)")]
    OverlapsInput {
        /// The output option (`--out`, `--trace`).
        option: &'static str,
        /// The output path.
        out: PathBuf,
        /// `is`, `contains` or `is inside`.
        relation: &'static str,
        /// The input's option (`--data`).
        flag: String,
        /// The input path.
        input: PathBuf,
    },
    /// `--out` names an existing file, not a directory.
    #[error("--out {0} is an existing file, not an output directory: refusing to replace it")]
    IsFile(PathBuf),
    /// `--out` is an existing directory that is not a previous output of this command.
    #[error(
        "--out {path} exists and is not a previous `cnnfpga {command}` output ({why}): \
         refusing to replace it (pass --force to replace it anyway)"
    )]
    Foreign {
        /// The output path.
        path: PathBuf,
        /// The command.
        command: &'static str,
        /// What was found instead.
        why: String,
    },
    /// File-system error.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Writing the files failed.
    #[error(transparent)]
    Write(#[from] crate::model::ModelError),
}

/// The command writing an output directory, and how its previous outputs are recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Producer {
    /// `cnnfpga train`: `model.json` with format `cnnfpga-model`.
    Train,
    /// `cnnfpga quantize`: `quant.json` with format `cnnfpga-quant`.
    Quantize,
    /// `cnnfpga export`: `summary.json` with format `cnnfpga-export`.
    Export,
    /// `cnnfpga report`: `metrics.json` holding the report's `settings` and `runs`.
    Report,
    /// `cnnfpga fpga build`: `report.json` holding `board`, `rtl_hash` and `bitstream`.
    FpgaBuild,
    /// `cnnfpga demo`: `summary/summary.md` and `model-int/quant.json`.
    Demo,
}

fn json_file(p: &Path) -> Result<serde_json::Value, String> {
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    let bytes = fs::read(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no {name}"),
        _ => format!("{name}: {e}"),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{name} is not JSON: {e}"))
}

fn has_format(dir: &Path, file: &str, format: &str) -> Result<(), String> {
    let v = json_file(&dir.join(file))?;
    match v.get("format").and_then(|f| f.as_str()) {
        Some(f) if f == format => Ok(()),
        other => Err(format!("{file} has format {other:?}, not {format:?}")),
    }
}

fn has_keys(dir: &Path, file: &str, keys: &[&str]) -> Result<(), String> {
    let v = json_file(&dir.join(file))?;
    match keys.iter().find(|k| v.get(**k).is_none()) {
        None => Ok(()),
        Some(k) => Err(format!("{file} has no `{k}`")),
    }
}

impl Producer {
    /// The subcommand as typed (`fpga build`).
    pub fn command(self) -> &'static str {
        match self {
            Producer::Train => "train",
            Producer::Quantize => "quantize",
            Producer::Export => "export",
            Producer::Report => "report",
            Producer::FpgaBuild => "fpga build",
            Producer::Demo => "demo",
        }
    }

    /// `Ok` if `dir` (an existing directory) holds this command's metadata; else what was
    /// found instead.
    pub fn recognises(self, dir: &Path) -> Result<(), String> {
        match self {
            Producer::Train => has_format(dir, crate::model::META_FILE, crate::model::FORMAT_NAME),
            Producer::Quantize => {
                has_format(dir, crate::qmodel::QUANT_FILE, crate::qmodel::QUANT_FORMAT)
            }
            Producer::Export => {
                has_format(dir, "summary.json", crate::qmodel::export::EXPORT_FORMAT)
            }
            Producer::Report => has_keys(dir, "metrics.json", &["settings", "runs", "summary"]),
            Producer::FpgaBuild => {
                has_keys(dir, "report.json", &["board", "rtl_hash", "bitstream"])
            }
            Producer::Demo => {
                if !dir.join("summary").join("summary.md").is_file() {
                    return Err("no summary/summary.md".into());
                }
                Producer::Quantize.recognises(&dir.join("model-int"))
            }
        }
    }
}

/// An input path the output must keep clear of.
#[derive(Clone, Debug)]
pub struct Input {
    /// The option naming it (`--data`).
    pub flag: String,
    /// The path.
    pub path: PathBuf,
    /// Whether `--out` may lie inside it (never equal to it or containing it).
    pub allow_inside: bool,
}

impl Input {
    /// An input that `--out` may neither equal, contain nor lie inside.
    pub fn new(flag: &str, path: &Path) -> Input {
        Input {
            flag: flag.into(),
            path: path.to_path_buf(),
            allow_inside: false,
        }
    }

    /// An input that `--out` may lie inside (but not equal or contain).
    pub fn allow_inside(flag: &str, path: &Path) -> Input {
        Input {
            allow_inside: true,
            ..Input::new(flag, path)
        }
    }
}

/// An absolute path with symlinks resolved as far as the path exists, `.`/`..` removed
/// lexically beyond that.
pub fn resolve(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    // Canonicalise the longest existing prefix, append the rest.
    let comps: Vec<Component> = abs.components().collect();
    for split in (0..=comps.len()).rev() {
        let head: PathBuf = comps[..split].iter().collect();
        if head.as_os_str().is_empty() {
            continue;
        }
        if let Ok(mut c) = fs::canonicalize(&head) {
            for comp in &comps[split..] {
                match comp {
                    Component::ParentDir => {
                        c.pop();
                    }
                    Component::CurDir => {}
                    other => c.push(other.as_os_str()),
                }
            }
            return c;
        }
    }
    abs
}

/// Checks a single output *file* (`sim --trace`; errors say `--trace`): never equal to an input, nor inside an input
/// directory (an existing file of another name is the user's to overwrite, as with any
/// `--trace`-style option).
pub fn check_out_file(out: &Path, inputs: &[Input]) -> Result<(), OutDirError> {
    let o = resolve(out);
    for i in inputs {
        let ip = resolve(&i.path);
        let relation = if o == ip {
            "is"
        } else if o.starts_with(&ip) {
            "is inside"
        } else {
            continue;
        };
        return Err(OutDirError::OverlapsInput {
            option: "--trace",
            out: out.to_path_buf(),
            relation,
            flag: i.flag.clone(),
            input: i.path.clone(),
        });
    }
    if out.is_dir() {
        return Err(OutDirError::Io {
            op: "writing",
            path: out.to_path_buf(),
            source: std::io::Error::other("is a directory"),
        });
    }
    Ok(())
}

/// Checks an output *directory* `--out` against the inputs alone (the first rule of the module
/// docs): it may not be an input, contain one, or lie inside one (unless the input allows it).
/// [`OutDir::prepare`] runs it first; commands with their own replacement rule (`import`) call
/// it directly.
pub fn check_out_dir_inputs(out: &Path, inputs: &[Input]) -> Result<(), OutDirError> {
    let o = resolve(out);
    for i in inputs {
        let ip = resolve(&i.path);
        let relation = if o == ip {
            "is"
        } else if ip.starts_with(&o) {
            "contains"
        } else if o.starts_with(&ip) && !i.allow_inside {
            "is inside"
        } else {
            continue;
        };
        return Err(OutDirError::OverlapsInput {
            option: "--out",
            out: out.to_path_buf(),
            relation,
            flag: i.flag.clone(),
            input: i.path.clone(),
        });
    }
    Ok(())
}

/// Writes `bytes` to the file `path` atomically: a temporary sibling (unique per process and
/// call), fsync, rename; on failure the temporary file is removed and the error names the step
/// (`op`: create, write, fsync, rename) and its path. Readers never see a half-written file.
/// The parent directory must exist.
pub fn write_file_atomic(
    path: &Path,
    bytes: &[u8],
) -> Result<(), (&'static str, PathBuf, std::io::Error)> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        (
            "create",
            path.to_path_buf(),
            std::io::Error::other("has no file name"),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let at = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e| (op, p, e)
    };
    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(at("create", &tmp))?;
        file.write_all(bytes).map_err(at("write", &tmp))?;
        file.sync_all().map_err(at("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(at("rename", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    result
}

/// A checked output directory.
#[derive(Clone, Debug)]
pub struct OutDir {
    /// The path as given.
    pub path: PathBuf,
    /// The command writing it.
    pub producer: Producer,
}

impl OutDir {
    /// Checks `out` against the rules in the module docs. Call before any expensive work.
    pub fn prepare(
        out: &Path,
        producer: Producer,
        inputs: &[Input],
        force: bool,
    ) -> Result<OutDir, OutDirError> {
        check_out_dir_inputs(out, inputs)?;
        match fs::symlink_metadata(out) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(OutDirError::Io {
                    op: "inspecting",
                    path: out.to_path_buf(),
                    source,
                })
            }
            Ok(md) if !md.is_dir() => return Err(OutDirError::IsFile(out.to_path_buf())),
            Ok(_) => {
                let empty = fs::read_dir(out)
                    .map_err(|source| OutDirError::Io {
                        op: "listing",
                        path: out.to_path_buf(),
                        source,
                    })?
                    .next()
                    .is_none();
                if !empty && !force {
                    producer
                        .recognises(out)
                        .map_err(|why| OutDirError::Foreign {
                            path: out.to_path_buf(),
                            command: producer.command(),
                            why,
                        })?;
                }
            }
        }
        Ok(OutDir {
            path: out.to_path_buf(),
            producer,
        })
    }

    /// Writes `files` as the whole new directory, atomically replacing the old one.
    pub fn write_files(&self, files: &[(&str, &[u8])]) -> Result<(), OutDirError> {
        Ok(write_dir_atomic(&self.path, files)?)
    }

    /// A fresh sibling temporary directory for the command to fill; [`Staging::commit`] puts
    /// it in place. Dropped without a commit, it is removed and the old output stays.
    pub fn stage(&self) -> Result<Staging, OutDirError> {
        let parent = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| OutDirError::Io { op, path, source }
        };
        fs::create_dir_all(&parent).map_err(io("creating", &parent))?;
        let base = self
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = parent.join(format!(".{base}.staging-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir(&tmp).map_err(io("creating", &tmp))?;
        Ok(Staging {
            tmp,
            parent,
            base,
            target: self.path.clone(),
            done: false,
        })
    }
}

/// A temporary output directory being filled (see [`OutDir::stage`]).
#[derive(Debug)]
pub struct Staging {
    tmp: PathBuf,
    parent: PathBuf,
    base: String,
    target: PathBuf,
    done: bool,
}

impl Staging {
    /// The directory to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the filled directory over the target (the old one renamed aside first, then
    /// removed).
    pub fn commit(mut self) -> Result<(), OutDirError> {
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| OutDirError::Io { op, path, source }
        };
        if let Ok(d) = fs::File::open(&self.tmp) {
            let _ = d.sync_all();
        }
        let old = self
            .parent
            .join(format!(".{}.old-{}", self.base, std::process::id()));
        let had_old = self.target.exists();
        if had_old {
            let _ = fs::remove_dir_all(&old);
            fs::rename(&self.target, &old).map_err(io("renaming", &self.target))?;
        }
        fs::rename(&self.tmp, &self.target).map_err(io("renaming", &self.tmp))?;
        self.done = true;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        if let Ok(d) = fs::File::open(&self.parent) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_rules() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        fs::create_dir_all(data.join("cat")).unwrap();
        let inputs = [Input::new("--data", &data)];
        let err = |out: &Path| OutDir::prepare(out, Producer::Train, &inputs, true).unwrap_err();
        assert!(matches!(
            err(&data),
            OutDirError::OverlapsInput { relation: "is", .. }
        ));
        assert!(matches!(
            err(d.path()),
            OutDirError::OverlapsInput {
                relation: "contains",
                ..
            }
        ));
        assert!(matches!(
            err(&data.join("m")),
            OutDirError::OverlapsInput {
                relation: "is inside",
                ..
            }
        ));
        // Spelled differently: `data/cat/..` is `data`.
        assert!(matches!(
            err(&data.join("cat").join("..")),
            OutDirError::OverlapsInput { relation: "is", .. }
        ));
        let allow = [Input::allow_inside("--model", &data)];
        assert!(OutDir::prepare(&data.join("g"), Producer::Export, &allow, false).is_ok());
        assert!(OutDir::prepare(&data, Producer::Export, &allow, true).is_err());
        assert!(OutDir::prepare(&d.path().join("m"), Producer::Train, &inputs, false).is_ok());
    }

    #[test]
    fn existing_paths() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert!(matches!(
            OutDir::prepare(&file, Producer::Train, &[], true),
            Err(OutDirError::IsFile(_))
        ));
        let foreign = d.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        assert!(OutDir::prepare(&foreign, Producer::Train, &[], false).is_ok());
        fs::write(foreign.join("notes.txt"), b"mine").unwrap();
        let e = OutDir::prepare(&foreign, Producer::Train, &[], false).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert!(OutDir::prepare(&foreign, Producer::Train, &[], true).is_ok());
        fs::write(
            foreign.join("quant.json"),
            br#"{"format": "cnnfpga-quant"}"#,
        )
        .unwrap();
        assert!(OutDir::prepare(&foreign, Producer::Quantize, &[], false).is_ok());
        assert!(OutDir::prepare(&foreign, Producer::Train, &[], false).is_err());
    }

    #[test]
    fn staging_commits_or_leaves_the_old() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("o");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("a"), b"old").unwrap();
        let od = OutDir::prepare(&out, Producer::FpgaBuild, &[], true).unwrap();
        {
            let s = od.stage().unwrap();
            fs::write(s.path().join("a"), b"half").unwrap();
            // dropped: failed run
        }
        assert_eq!(fs::read(out.join("a")).unwrap(), b"old");
        let s = od.stage().unwrap();
        fs::write(s.path().join("a"), b"new").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read(out.join("a")).unwrap(), b"new");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
