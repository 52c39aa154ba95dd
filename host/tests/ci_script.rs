//! The CI entry point runs the README's test command with `CI=true`: `.ci/run` and
//! `scripts/test.sh`, copied into a scratch tree with a stub `scripts/setup.sh` and a fake
//! `cargo` first on `PATH` that records its environment and arguments, so the real scripts run
//! without installing or testing anything. A fake `verilator` sits next to it, so the record
//! shows which cargo commands run with no Verilator to be found (the host built without its
//! `hw` feature).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs the copied `.ci/run` with `CI` set to `ci` (or unset); returns the fake cargo's record,
/// one line per cargo command: `CI=<value> verilator=<found|absent> [RUSTDOCFLAGS=<value>]
/// <arguments>`, where `found` means `$VERILATOR` or else `verilator` on `PATH` is executable
/// and `RUSTDOCFLAGS` appears when it is set.
fn ci_run(ci: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    for f in [".ci/run", "scripts/test.sh"] {
        script(
            &repo.join(f),
            &std::fs::read_to_string(root().join(f)).unwrap(),
        );
    }
    script(&repo.join("scripts/setup.sh"), "#!/bin/sh\nexit 0\n");
    let record = tmp.path().join("record");
    script(
        &tmp.path().join("bin/cargo"),
        &format!(
            "#!/bin/sh\n\
             if command -v \"${{VERILATOR:-verilator}}\" >/dev/null; then v=found; else v=absent; fi\n\
             echo \"CI=${{CI-unset}} verilator=$v${{RUSTDOCFLAGS:+ RUSTDOCFLAGS=$RUSTDOCFLAGS}} $*\" >> '{}'\n",
            record.display()
        ),
    );
    script(&tmp.path().join("bin/verilator"), "#!/bin/sh\nexit 1\n");
    let path = format!(
        "{}:{}",
        tmp.path().join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let mut cmd = Command::new(repo.join(".ci/run"));
    cmd.env("PATH", path)
        .env_remove("CI")
        .env_remove("VERILATOR")
        .env_remove("RUSTDOCFLAGS");
    if let Some(v) = ci {
        cmd.env("CI", v);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{o:?}");
    std::fs::read_to_string(record).unwrap()
}

/// The cargo commands `scripts/test.sh` runs, in order, as the fake cargo records them; `ci`
/// is the `CI` value the workspace tests see.
fn expected(ci: &str) -> String {
    [
        // the gates, before anything slow
        format!("CI={ci} verilator=found fmt --all --check"),
        format!("CI={ci} verilator=found clippy --workspace --all-targets -- -D warnings"),
        format!(
            "CI={ci} verilator=found RUSTDOCFLAGS=-D warnings doc --workspace --no-deps --quiet"
        ),
        // the host without `hw`, no Verilator reachable (always CI=true: sim/build.rs fails)
        "CI=true verilator=absent build -p host --no-default-features".to_string(),
        "CI=true verilator=absent test -p host --no-default-features --test features".to_string(),
        format!("CI={ci} verilator=found test --workspace --no-fail-fast"),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect()
}

#[test]
fn ci_runs_the_test_command_with_ci_true() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("scripts/test.sh     # all tests"));
    // CI unset (as `.ci/run` is started) or set to anything but "false": tools are required
    for ci in [None, Some("1"), Some("true")] {
        assert_eq!(ci_run(ci), expected("true"), "{ci:?}");
    }
    // the local opt-out
    assert_eq!(ci_run(Some("false")), expected("false"));
}
