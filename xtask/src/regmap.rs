//! The register map: `rtl/regmap/accel.toml` is the single source of the SoC memory map, the
//! engines' registers and the accelerator's hardware parameters. This module owns its model
//! (parsing and validation) and renders it as a SystemVerilog package (`rtl/gen/accel_pkg.sv`),
//! a no_std Rust module (`firmware/src/regs.rs`) and a Markdown table (`docs/registers.md`).
//! [`crate::codegen`] writes them (`cargo xtask codegen`).

use std::fmt::Write as _;

use serde::Deserialize;

use crate::header::{header, one_line, rs_hex};

pub use crate::header::SOURCE;
/// Generated SystemVerilog package, relative to the workspace root.
pub const OUT_SV: &str = "rtl/gen/accel_pkg.sv";
/// Generated Rust module, relative to the workspace root.
pub const OUT_RS: &str = "firmware/src/regs.rs";
/// Generated documentation, relative to the workspace root.
pub const OUT_MD: &str = "docs/registers.md";

/// The whole map as read from the TOML file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegMap {
    /// Hardware parameters.
    #[serde(default)]
    pub param: Vec<Param>,
    /// SoC memory regions.
    #[serde(default)]
    pub region: Vec<Region>,
    /// Layout areas inside regions.
    #[serde(default)]
    pub area: Vec<Area>,
    /// Register blocks.
    #[serde(default)]
    pub block: Vec<Block>,
}

/// A named area inside a region: a layout convention (flash layout, RAM layout) shared by the
/// boot ROM, the firmware and the host tools.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// `ALL_CAPS` name.
    pub name: String,
    /// The region it lies in.
    pub region: String,
    /// Byte offset from the region base (multiple of 4).
    pub offset: u64,
    /// Size in bytes (multiple of 4).
    pub size: u64,
    /// Description.
    pub doc: String,
}

impl Area {
    /// Absolute byte address.
    pub fn addr(&self, map: &RegMap) -> u64 {
        map.region
            .iter()
            .find(|r| r.name == self.region)
            .map_or(0, |r| r.base)
            + self.offset
    }
}

/// One hardware parameter (a non-negative integer; 0/1 for switches).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// `ALL_CAPS` name.
    pub name: String,
    /// Value.
    pub value: u64,
    /// One-sentence description.
    pub doc: String,
}

/// One SoC memory region.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// `ALL_CAPS` name.
    pub name: String,
    /// Base byte address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Description.
    pub doc: String,
}

/// A block of 32-bit registers at a base address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// `ALL_CAPS` name.
    pub name: String,
    /// Base byte address.
    pub base: u64,
    /// Size of the address window in bytes (a power of two).
    pub size: u64,
    /// Description.
    pub doc: String,
    /// Registers.
    #[serde(default)]
    pub reg: Vec<Reg>,
}

/// One 32-bit register.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reg {
    /// `ALL_CAPS` name.
    pub name: String,
    /// Byte offset from the block base (multiple of 4).
    pub offset: u64,
    /// `r`, `w` or `rw`.
    pub access: String,
    /// Description.
    pub doc: String,
    /// Bit fields (none: the register is one 32-bit value).
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// A bit field of a register.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// `ALL_CAPS` name.
    pub name: String,
    /// Lowest bit.
    pub lsb: u32,
    /// Width in bits.
    pub width: u32,
    /// `r`, `w` or `rw`.
    pub access: String,
    /// Description.
    pub doc: String,
}

impl Field {
    fn mask(&self) -> u32 {
        (((1u64 << self.width) - 1) << self.lsb) as u32
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn overlap(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

impl RegMap {
    /// Parses and validates a map.
    pub fn parse(text: &str) -> Result<RegMap, String> {
        let map: RegMap = toml::from_str(text).map_err(|e| format!("{SOURCE}: {e}"))?;
        map.validate()?;
        Ok(map)
    }

    /// Checks names, alignment, overlaps and field widths.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for p in &self.param {
            if !is_ident(&p.name) || !names.insert(format!("P{}", p.name)) {
                return Err(format!("bad or duplicate parameter name {:?}", p.name));
            }
            if p.value > u64::from(u32::MAX) {
                return Err(format!("parameter {} must be in 0..=u32::MAX", p.name));
            }
        }
        for (i, r) in self.region.iter().enumerate() {
            if !is_ident(&r.name) || !names.insert(format!("R{}", r.name)) {
                return Err(format!("bad or duplicate region name {:?}", r.name));
            }
            if r.base + r.size > 1 << 32 || r.size == 0 {
                return Err(format!("region {} outside the 32-bit space", r.name));
            }
            for q in &self.region[..i] {
                if overlap((r.base, r.size), (q.base, q.size)) {
                    return Err(format!("regions {} and {} overlap", r.name, q.name));
                }
            }
        }
        for (i, a) in self.area.iter().enumerate() {
            if !is_ident(&a.name) || !names.insert(format!("A{}", a.name)) {
                return Err(format!("bad or duplicate area name {:?}", a.name));
            }
            let Some(r) = self.region.iter().find(|r| r.name == a.region) else {
                return Err(format!("area {}: no region {}", a.name, a.region));
            };
            if a.size == 0 || a.offset % 4 != 0 || a.size % 4 != 0 || a.offset + a.size > r.size {
                return Err(format!(
                    "area {}: must be non-empty, word aligned and inside {}",
                    a.name, r.name
                ));
            }
            for q in self.area[..i].iter().filter(|q| q.region == a.region) {
                if overlap((a.offset, a.size), (q.offset, q.size)) {
                    return Err(format!("areas {} and {} overlap", a.name, q.name));
                }
            }
        }
        for (i, b) in self.block.iter().enumerate() {
            if !is_ident(&b.name) || !names.insert(format!("B{}", b.name)) {
                return Err(format!("bad or duplicate block name {:?}", b.name));
            }
            if !b.size.is_power_of_two() || b.base % b.size != 0 {
                return Err(format!(
                    "block {}: size must be a power of two dividing the base",
                    b.name
                ));
            }
            if !self
                .region
                .iter()
                .any(|r| b.base >= r.base && b.base + b.size <= r.base + r.size)
            {
                return Err(format!("block {} lies in no region", b.name));
            }
            for q in &self.block[..i] {
                if overlap((b.base, b.size), (q.base, q.size)) {
                    return Err(format!("blocks {} and {} overlap", b.name, q.name));
                }
            }
            let mut reg_names = std::collections::HashSet::new();
            for (j, r) in b.reg.iter().enumerate() {
                let what = format!("{}.{}", b.name, r.name);
                if !is_ident(&r.name) || !reg_names.insert(r.name.as_str()) {
                    return Err(format!("bad or duplicate register name {what}"));
                }
                if r.offset % 4 != 0 || r.offset >= b.size {
                    return Err(format!(
                        "{what}: offset must be word aligned and inside the block"
                    ));
                }
                if b.reg[..j].iter().any(|q| q.offset == r.offset) {
                    return Err(format!("{what}: offset {:#x} used twice", r.offset));
                }
                check_access(&r.access, &what)?;
                let mut field_names = std::collections::HashSet::new();
                for (k, f) in r.fields.iter().enumerate() {
                    let fwhat = format!("{what}.{}", f.name);
                    if !is_ident(&f.name) || !field_names.insert(f.name.as_str()) {
                        return Err(format!("bad or duplicate field name {fwhat}"));
                    }
                    check_access(&f.access, &fwhat)?;
                    if f.width == 0 || f.lsb + f.width > 32 {
                        return Err(format!("{fwhat}: bits outside the register"));
                    }
                    if !f.access.chars().all(|c| r.access.contains(c)) {
                        return Err(format!("{fwhat}: access wider than its register's"));
                    }
                    // Fields may share bits only when one is read-only and the other write-only.
                    for g in &r.fields[..k] {
                        let shares_dir = f.access.chars().any(|c| g.access.contains(c));
                        if shares_dir && f.mask() & g.mask() != 0 {
                            return Err(format!("{fwhat} overlaps {}", g.name));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Value of a parameter by name.
    pub fn param(&self, name: &str) -> Option<u64> {
        self.param.iter().find(|p| p.name == name).map(|p| p.value)
    }

    /// Finds an area by name.
    pub fn area(&self, name: &str) -> Option<&Area> {
        self.area.iter().find(|a| a.name == name)
    }

    /// Finds a block by name.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.block.iter().find(|b| b.name == name)
    }
}

fn check_access(a: &str, what: &str) -> Result<(), String> {
    match a {
        "r" | "w" | "rw" => Ok(()),
        _ => Err(format!("{what}: access must be r, w or rw, not {a:?}")),
    }
}

/// Block offset width in bits (log2 of the block size).
fn block_aw(b: &Block) -> u32 {
    b.size.trailing_zeros()
}

/// Renders the SystemVerilog package.
pub fn render_sv(map: &RegMap) -> String {
    let mut s = header("//");
    s.push_str(
        "// Hardware parameters, SoC memory map and register map of the cnnfpga accelerator.\n",
    );
    s.push_str(
        "`default_nettype none\n\npackage accel_pkg;\n\n  // ---- hardware parameters ----\n",
    );
    for p in &map.param {
        let _ = writeln!(s, "  // {}", one_line(&p.doc));
        let _ = writeln!(s, "  localparam int unsigned {} = {};", p.name, p.value);
    }
    s.push_str("\n  // ---- SoC memory map (byte addresses) ----\n");
    for r in &map.region {
        let _ = writeln!(s, "  // {}", one_line(&r.doc));
        let _ = writeln!(
            s,
            "  localparam logic [31:0] {}_BASE = 32'h{:08x};",
            r.name, r.base
        );
        let _ = writeln!(
            s,
            "  localparam logic [31:0] {}_SIZE = 32'h{:08x};",
            r.name, r.size
        );
    }
    s.push_str(
        "\n  // ---- layout areas (ADDR absolute, OFFSET from the region base, LEN bytes) ----\n",
    );
    for a in &map.area {
        let _ = writeln!(s, "  // {} (in {}): {}", a.name, a.region, one_line(&a.doc));
        let _ = writeln!(
            s,
            "  localparam logic [31:0] {}_ADDR = 32'h{:08x};",
            a.name,
            a.addr(map)
        );
        let _ = writeln!(
            s,
            "  localparam logic [31:0] {}_OFFSET = 32'h{:08x};",
            a.name, a.offset
        );
        let _ = writeln!(
            s,
            "  localparam logic [31:0] {}_LEN = 32'h{:08x};",
            a.name, a.size
        );
    }
    for b in &map.block {
        let aw = block_aw(b);
        let _ = writeln!(s, "\n  // ---- block {}: {} ----", b.name, one_line(&b.doc));
        let _ = writeln!(
            s,
            "  localparam logic [31:0] {}_BASE = 32'h{:08x};",
            b.name, b.base
        );
        let _ = writeln!(
            s,
            "  localparam int unsigned {}_AW = {aw};  // offset width in bits",
            b.name
        );
        for r in &b.reg {
            let _ = writeln!(s, "  // {} ({}): {}", r.name, r.access, one_line(&r.doc));
            let _ = writeln!(
                s,
                "  localparam logic [{}:0] {}_{} = {aw}'h{:03x};",
                aw - 1,
                b.name,
                r.name,
                r.offset
            );
            for f in &r.fields {
                let p = format!("{}_{}_{}", b.name, r.name, f.name);
                let _ = writeln!(
                    s,
                    "  //   {} [{}:{}] ({}): {}",
                    f.name,
                    f.lsb + f.width - 1,
                    f.lsb,
                    f.access,
                    one_line(&f.doc)
                );
                let _ = writeln!(s, "  localparam int unsigned {p}_LSB = {};", f.lsb);
                let _ = writeln!(s, "  localparam int unsigned {p}_WIDTH = {};", f.width);
            }
        }
    }
    s.push_str("\nendpackage : accel_pkg\n\n`default_nettype wire\n");
    s
}

fn doc_lines(s: &mut String, indent: &str, text: &str) {
    let _ = writeln!(s, "{indent}/// {}", one_line(text));
}

/// Renders the Rust module (no_std: constants only).
pub fn render_rs(map: &RegMap) -> String {
    let mut s = header("//");
    s.push_str(
        "//! Register map, SoC memory map and hardware parameters of the cnnfpga accelerator,\n",
    );
    let _ = writeln!(
        s,
        "//! generated from `{SOURCE}` (see `docs/registers.md`).\n"
    );
    s.push_str("// ---- hardware parameters (RTL defaults; read CONV.HWCFG for the instance's values) ----\n\n");
    for p in &map.param {
        doc_lines(&mut s, "", &p.doc);
        let _ = writeln!(s, "pub const {}: usize = {};", p.name, p.value);
    }
    s.push_str("\n// ---- SoC memory map ----\n\n");
    for r in &map.region {
        doc_lines(
            &mut s,
            "",
            &format!("Base address of {}: {}", r.name, r.doc),
        );
        let _ = writeln!(s, "pub const {}_BASE: u32 = {};", r.name, rs_hex(r.base));
        doc_lines(&mut s, "", &format!("Size of {} in bytes.", r.name));
        let _ = writeln!(s, "pub const {}_SIZE: u32 = {};", r.name, rs_hex(r.size));
    }
    s.push_str("\n// ---- layout areas inside the regions ----\n\n");
    for a in &map.area {
        doc_lines(
            &mut s,
            "",
            &format!("Address of area {} (in {}): {}", a.name, a.region, a.doc),
        );
        let _ = writeln!(
            s,
            "pub const {}_ADDR: u32 = {};",
            a.name,
            rs_hex(a.addr(map))
        );
        doc_lines(
            &mut s,
            "",
            &format!("Offset of {} from {}_BASE.", a.name, a.region),
        );
        let _ = writeln!(
            s,
            "pub const {}_OFFSET: u32 = {};",
            a.name,
            rs_hex(a.offset)
        );
        doc_lines(&mut s, "", &format!("Size of {} in bytes.", a.name));
        let _ = writeln!(s, "pub const {}_LEN: u32 = {};", a.name, rs_hex(a.size));
    }
    for b in &map.block {
        s.push('\n');
        doc_lines(&mut s, "", &format!("Register block {}: {}", b.name, b.doc));
        let _ = writeln!(s, "pub mod {} {{", b.name.to_ascii_lowercase());
        doc_lines(&mut s, "    ", "Base address of the block.");
        let _ = writeln!(s, "    pub const BASE: u32 = {};", rs_hex(b.base));
        doc_lines(
            &mut s,
            "    ",
            "Size of the block's address window in bytes.",
        );
        let _ = writeln!(s, "    pub const SIZE: u32 = {:#x};", b.size);
        for r in &b.reg {
            doc_lines(
                &mut s,
                "    ",
                &format!(
                    "`{}` ({}), byte offset from `BASE`: {}",
                    r.name, r.access, r.doc
                ),
            );
            let _ = writeln!(s, "    pub const {}: u32 = {:#04x};", r.name, r.offset);
            for f in &r.fields {
                let p = format!("{}_{}", r.name, f.name);
                doc_lines(
                    &mut s,
                    "    ",
                    &format!(
                        "`{}.{}` bit position ({}): {}",
                        r.name, f.name, f.access, f.doc
                    ),
                );
                let _ = writeln!(s, "    pub const {p}_SHIFT: u32 = {};", f.lsb);
                doc_lines(
                    &mut s,
                    "    ",
                    &format!("`{}.{}` mask (already shifted).", r.name, f.name),
                );
                let _ = writeln!(s, "    pub const {p}_MASK: u32 = {:#010x};", f.mask());
            }
        }
        s.push_str("}\n");
    }
    s
}

/// Renders the Markdown documentation.
pub fn render_md(map: &RegMap) -> String {
    let mut s = String::from("<!-- ");
    s.push_str(header("").trim_end().replace('\n', " ").trim());
    s.push_str(" -->\n\n# Registers and memory map\n\n");
    s.push_str("All registers are 32 bits wide and word aligned. `r` = read-only, `w` = write-only, `rw` = read/write.\n\n");
    s.push_str("## Hardware parameters\n\n| name | value | meaning |\n| --- | ---: | --- |\n");
    for p in &map.param {
        let _ = writeln!(s, "| `{}` | {} | {} |", p.name, p.value, one_line(&p.doc));
    }
    s.push_str(
        "\n## SoC memory map\n\n| region | base | size | use |\n| --- | --- | ---: | --- |\n",
    );
    for r in &map.region {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} B | {} |",
            r.name,
            rs_hex(r.base),
            r.size,
            one_line(&r.doc)
        );
    }
    s.push_str("\n## Layout areas\n\n| area | region | offset | address | size | use |\n| --- | --- | --- | --- | ---: | --- |\n");
    for a in &map.area {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | `{}` | {} B | {} |",
            a.name,
            a.region,
            rs_hex(a.offset),
            rs_hex(a.addr(map)),
            a.size,
            one_line(&a.doc)
        );
    }
    for b in &map.block {
        let _ = write!(
            s,
            "\n## {} at `{}`\n\n{}\n\n",
            b.name,
            rs_hex(b.base),
            one_line(&b.doc)
        );
        if b.reg.is_empty() {
            continue;
        }
        s.push_str(
            "| offset | address | name | access | description |\n| --- | --- | --- | --- | --- |\n",
        );
        for r in &b.reg {
            let mut desc = one_line(&r.doc);
            for f in &r.fields {
                let bits = if f.width == 1 {
                    format!("[{}]", f.lsb)
                } else {
                    format!("[{}:{}]", f.lsb + f.width - 1, f.lsb)
                };
                let _ = write!(
                    desc,
                    "<br>`{bits}` **{}** ({}): {}",
                    f.name,
                    f.access,
                    one_line(&f.doc)
                );
            }
            let _ = writeln!(
                s,
                "| `{:#04x}` | `{}` | `{}` | {} | {} |",
                r.offset,
                rs_hex(b.base + r.offset),
                r.name,
                r.access,
                desc
            );
        }
    }
    s
}
