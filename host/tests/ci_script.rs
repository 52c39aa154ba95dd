//! The CI entry point runs the README's test command with `CI=true`: `.ci/run` and
//! `scripts/test.sh`, copied into a scratch tree with a stub `scripts/setup.sh` and a fake
//! `cargo` first on `PATH` that records its environment and arguments, so the real scripts run
//! without installing or testing anything.

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

/// Runs the copied `.ci/run` with `CI` set to `ci` (or unset); returns the fake cargo's record.
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
            "#!/bin/sh\necho \"CI=${{CI-unset}} $*\" >> '{}'\n",
            record.display()
        ),
    );
    let path = format!(
        "{}:{}",
        tmp.path().join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let mut cmd = Command::new(repo.join(".ci/run"));
    cmd.env("PATH", path).env_remove("CI");
    if let Some(v) = ci {
        cmd.env("CI", v);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{o:?}");
    std::fs::read_to_string(record).unwrap()
}

#[test]
fn ci_runs_the_test_command_with_ci_true() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("scripts/test.sh     # all tests"));
    // CI unset (as `.ci/run` is started) or set to anything but "false": tools are required
    for ci in [None, Some("1"), Some("true")] {
        assert_eq!(
            ci_run(ci),
            "CI=true test --workspace --no-fail-fast\n",
            "{ci:?}"
        );
    }
    // the local opt-out
    assert_eq!(
        ci_run(Some("false")),
        "CI=false test --workspace --no-fail-fast\n"
    );
}
