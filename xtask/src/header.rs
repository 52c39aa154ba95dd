//! What every generated file shares: the source path, the "generated, do not edit" header that
//! names the command, and the small text helpers the renderers of [`crate::regmap`] and
//! [`crate::bootrom`] both use (a leaf module: it imports neither).

/// The single source, relative to the workspace root.
pub const SOURCE: &str = "rtl/regmap/accel.toml";

/// The command that writes the generated files.
pub const TOOL: &str = "cargo xtask codegen";

/// The first two lines of every generated file, as `comment`-prefixed lines.
pub fn header(comment: &str) -> String {
    format!(
        "{comment} Generated from {SOURCE} by `{TOOL}`; do not edit.\n\
         {comment} Edit the TOML file and re-run the generator (`--check` verifies in CI).\n"
    )
}

/// `s` with every run of whitespace (newlines included) folded into one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `0x0001_0000`: 32-bit hex with a `_` before the low 16 bits.
pub fn rs_hex(v: u64) -> String {
    let h = format!("{v:08X}");
    format!("0x{}_{}", &h[..h.len() - 4], &h[h.len() - 4..])
}
