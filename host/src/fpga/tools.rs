//! Finding and running the external tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::FpgaError;

/// The synthesis and place-and-route tools the project installs itself, pinned, from PyPI's
/// YoWASP builds into the project venv (`scripts/setup.sh`): `.venv/bin/yowasp-<tool>`. They
/// are preferred over Debian's older yosys 0.23 / nextpnr-ice40 0.4, which give the board build
/// ~160 LCs more and a ~20 % lower Fmax (docs/fpga.md); `CNNFPGA_TOOLCHAIN=system` uses the
/// tools on `PATH` instead.
pub const YOWASP_TOOLS: [&str; 3] = ["yosys", "nextpnr-ice40", "icepack"];

/// Where `tool` is run from: the project venv's YoWASP build for [`YOWASP_TOOLS`] (unless
/// `CNNFPGA_TOOLCHAIN=system`), else the first match on `PATH`.
pub fn find(tool: &str) -> Option<PathBuf> {
    if YOWASP_TOOLS.contains(&tool) && std::env::var("CNNFPGA_TOOLCHAIN").as_deref() != Ok("system")
    {
        let p = super::board::repo_root()
            .join(".venv/bin")
            .join(format!("yowasp-{tool}"));
        if is_executable(&p) {
            return Some(p);
        }
    }
    find_on_path(tool)
}

/// The path of `tool` on `PATH`, if any.
pub fn find_on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// A command for `tool` as [`find`] resolves it (the bare name if it is nowhere: running it
/// then fails with the OS's error).
pub fn command(tool: &str) -> Command {
    Command::new(find(tool).unwrap_or_else(|| PathBuf::from(tool)))
}

/// Fails with [`FpgaError::ToolMissing`] for the first of `tools` that [`find`] cannot find.
pub fn require(tools: &[&str]) -> Result<(), FpgaError> {
    match tools.iter().find(|t| find(t).is_none()) {
        Some(t) => Err(FpgaError::ToolMissing {
            tool: t.to_string(),
        }),
        None => Ok(()),
    }
}

/// `path` relative to the directory `base` (both absolute and resolved): `../` for every
/// component of `base` below their common prefix, then the rest of `path`.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut r = PathBuf::new();
    for _ in common..b.len() {
        r.push("..");
    }
    for c in &p[common..] {
        r.push(c);
    }
    r
}

/// A command line as the user would type it (arguments with spaces or quotes are quoted).
pub fn display(cmd: &Command) -> String {
    let mut parts = vec![quote(&cmd.get_program().to_string_lossy())];
    parts.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// Shell-quotes one word if it needs it.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` in `dir`, stdin from `stdin` (if any), stdout to `stdout` (if any, else captured).
/// On failure the error names the stage and shows the last lines of the output and of `log`.
pub fn run(
    stage: &str,
    cmd: &mut Command,
    dir: &Path,
    stdin: Option<&Path>,
    stdout: Option<&Path>,
    log: Option<&Path>,
) -> Result<String, FpgaError> {
    cmd.current_dir(dir);
    let shown = display(cmd);
    if let Some(p) = stdin {
        let f = std::fs::File::open(dir.join(p)).map_err(super::io_err("opening", p))?;
        cmd.stdin(Stdio::from(f));
    } else {
        cmd.stdin(Stdio::null());
    }
    if let Some(p) = stdout {
        let f = std::fs::File::create(dir.join(p)).map_err(super::io_err("creating", p))?;
        cmd.stdout(Stdio::from(f));
    } else {
        cmd.stdout(Stdio::piped());
    }
    cmd.stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            FpgaError::ToolMissing {
                tool: cmd.get_program().to_string_lossy().into_owned(),
            }
        } else {
            FpgaError::Io {
                op: "running",
                path: PathBuf::from(cmd.get_program()),
                source: e,
            }
        }
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        return Ok(text);
    }
    let mut tail = last_lines(&text, 15);
    if let Some(l) = log.and_then(|l| std::fs::read_to_string(dir.join(l)).ok()) {
        tail = format!(
            "{tail}\n--- {} ---\n{}",
            log.unwrap().display(),
            last_lines(&l, 15)
        );
    }
    Err(FpgaError::ToolFailed {
        stage: stage.to_string(),
        status: out.status.to_string(),
        command: shown,
        tail,
    })
}

/// The last `n` non-empty lines of `s`.
pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// First line of `tool --version`-style output, for the cache key and the report (YoWASP's
/// one-time "Preparing to run ..." notice skipped).
pub fn version(tool: &str, arg: &str) -> String {
    command(tool)
        .arg(arg)
        .output()
        .map(|o| {
            let s = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            s.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("Preparing to run"))
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::relative_to;
    use std::path::Path;

    #[test]
    fn relative_paths_climb_to_the_common_prefix() {
        assert_eq!(
            relative_to(Path::new("/a/b/rtl/x.sv"), Path::new("/a/b/target/c/.t")),
            Path::new("../../../rtl/x.sv")
        );
        assert_eq!(
            relative_to(Path::new("/tmp/r/x.pcf"), Path::new("/tmp/r")),
            Path::new("x.pcf")
        );
        assert_eq!(
            relative_to(Path::new("/x/y"), Path::new("/tmp/c")),
            Path::new("../../x/y")
        );
    }
}
