//! `docs/architecture.md`'s code map matches the tree: every path its first column names exists,
//! and every source file of the workspace (Rust under `*/src`, SystemVerilog under `rtl/`) is
//! named by a row, either itself or through a folder row. A moved or split module therefore
//! fails here until the map says where it went.
//!
//! First-column syntax: code spans holding a path (`host/src/eval.rs`), a folder (`host/src/quant/`),
//! brace lists (`host/src/{data,augment}.rs`), a `*` in the last component (`rtl/*.f`), and
//! follow-on spans relative to the first span's folder (`firmware/src/model.rs`, `crc.rs`).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first-column code spans of the "Code map" table.
fn code_map_cells(doc: &str) -> Vec<Vec<String>> {
    let start = doc
        .find("\n## Code map")
        .expect("docs/architecture.md has a `## Code map` section");
    let body = &doc[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |e| e + 3);
    body[..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let first = l[1..].split(" |").next().unwrap_or("");
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// `a/{b,c}.rs` -> [`a/b.rs`, `a/c.rs`] (one brace group at most).
fn expand_braces(s: &str) -> Vec<String> {
    match (s.find('{'), s.find('}')) {
        (Some(o), Some(c)) if o < c => s[o + 1..c]
            .split(',')
            .map(|alt| format!("{}{}{}", &s[..o], alt, &s[c + 1..]))
            .collect(),
        _ => vec![s.to_string()],
    }
}

/// Matches `pattern` (a `*` allowed in its last component) against existing paths under the root.
fn resolve(pattern: &str) -> Vec<PathBuf> {
    let root = root();
    let trimmed = pattern.trim_end_matches('/');
    if !trimmed.contains('*') {
        let p = root.join(trimmed);
        return if p.exists() { vec![p] } else { vec![] };
    }
    let (dir, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
    let (pre, post) = name.split_once('*').unwrap();
    std::fs::read_dir(root.join(dir))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every path named by the code map, canonicalised; panics naming the first row entry that
/// does not exist.
fn mapped_paths() -> Vec<PathBuf> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for cell in code_map_cells(&doc) {
        let base = cell
            .first()
            .map(|f| {
                f.trim_end_matches('/')
                    .rsplit_once('/')
                    .map_or("", |(d, _)| d)
                    .to_string()
            })
            .unwrap_or_default();
        for span in &cell {
            if !span.contains('/') && !span.contains('.') {
                continue; // a name, not a path
            }
            for alt in expand_braces(span) {
                let mut hits = resolve(&alt);
                if hits.is_empty() && !base.is_empty() {
                    hits = resolve(&format!("{base}/{alt}"));
                }
                if hits.is_empty() {
                    missing.push(alt);
                }
                out.extend(hits.into_iter().map(|p| p.canonicalize().unwrap()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md's code map names paths that do not exist: {missing:?}"
    );
    out
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p.canonicalize().unwrap());
        }
    }
}

#[test]
fn code_map_paths_exist() {
    assert!(
        mapped_paths().len() > 20,
        "the code map names too few paths"
    );
}

#[test]
fn every_source_file_is_on_the_code_map() {
    let mapped = mapped_paths();
    let root = root().canonicalize().unwrap();
    let mut sources = Vec::new();
    // the workspace members' sources (crate roots lib.rs/main.rs are the crate itself)
    for member in std::fs::read_dir(&root).unwrap().filter_map(Result::ok) {
        let p = member.path();
        if p.join("Cargo.toml").is_file() && p.join("src").is_dir() {
            walk(&p.join("src"), "rs", &mut sources);
        }
    }
    walk(&root.join("rtl"), "sv", &mut sources);
    let unmapped: Vec<_> = sources
        .iter()
        .filter(|s| {
            let name = s.file_name().unwrap();
            name != "lib.rs" && name != "main.rs"
        })
        .filter(|s| !mapped.iter().any(|m| s == &m || s.starts_with(m)))
        .map(|s| s.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        unmapped.is_empty(),
        "source files that docs/architecture.md's code map does not name (add a row or widen \
         one): {unmapped:?}"
    );
}
