//! `cargo xtask codegen [--check]`: renders every generated file from the register map
//! ([`crate::regmap`]: `accel_pkg.sv`, `regs.rs`, `registers.md`; [`crate::bootrom`]:
//! `soc_boot_rom.sv`), writes the ones that changed or lists the stale ones.

use std::path::{Path, PathBuf};

use crate::regmap::{self, RegMap};
use crate::{bootrom, header};

/// All outputs: (path relative to the workspace root, contents).
pub fn render_all(map: &RegMap) -> Vec<(&'static str, String)> {
    vec![
        (regmap::OUT_SV, regmap::render_sv(map)),
        (regmap::OUT_RS, regmap::render_rs(map)),
        (regmap::OUT_MD, regmap::render_md(map)),
        (bootrom::OUT_SV, bootrom::render_sv(map)),
    ]
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// Reads and validates the map under `root`.
pub fn load(root: &Path) -> Result<RegMap, String> {
    let path = root.join(header::SOURCE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    RegMap::parse(&text)
}

/// Returns the outputs under `root` whose contents differ from what the generator writes.
pub fn stale(root: &Path) -> Result<Vec<&'static str>, String> {
    let map = load(root)?;
    Ok(render_all(&map)
        .into_iter()
        .filter(|(p, want)| {
            std::fs::read_to_string(root.join(p)).ok().as_deref() != Some(want.as_str())
        })
        .map(|(p, _)| p)
        .collect())
}

/// Writes all outputs under `root` (each atomically: a temporary file renamed over the old
/// one); returns the paths that changed.
pub fn write(root: &Path) -> Result<Vec<&'static str>, String> {
    let map = load(root)?;
    let mut changed = Vec::new();
    for (p, text) in render_all(&map) {
        let path = root.join(p);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let tmp = path.with_extension("xtask-tmp");
            std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            changed.push(p);
        }
    }
    Ok(changed)
}
