//! Export of a quantised model for the RTL and the SoC: the blob, `$readmemh` memory images,
//! golden test vectors captured through the firmware runner's `Observer`, and a summary.
//!
//! Files (all deterministic: no timestamps, fixed key order, so a re-export is byte-identical):
//!
//! | file | content |
//! |---|---|
//! | `model.blob` | the firmware blob, unchanged |
//! | `model.hex` | the blob as 32-bit little-endian words, one `%08x` per line (SPRAM image at `MODEL_ADDR`) |
//! | `flash.hex` | byte image for the SPI flash model: `@<FLASH_MODEL_OFFSET>` + blob, `@<FLASH_INPUT_OFFSET>` + vector 0's input (`firmware::memmap`) |
//! | `vectors.bin` | per vector: the input image (u8 HWC), then every layer's output (u8 HWC activations; the final layer's i32 logits little-endian) |
//! | `vectors.json` | index into `vectors.bin`: offsets, lengths, shapes, SHA-256, label, class, logits |
//! | `summary.json` | blob hash and size, layers, arena size, compression, every file's size and SHA-256 |

use std::path::Path;

use firmware::memmap::{
    ARENA_LEN, FLASH_INPUT_OFFSET, FLASH_MODEL_OFFSET, INPUT_MAX_LEN, MODEL_MAX_LEN,
};
use firmware::model::LayerKind;
use firmware::runner;
use serde::Serialize;

use super::{CaptureObserver, IntModel, QModelError, QuantMeta, Result, BLOB_FILE};
use crate::data::Dataset;
use crate::model::{sha256_hex, write_dir_atomic};

/// `format` of `summary.json`.
pub const EXPORT_FORMAT: &str = "cnnfpga-export";
/// `format_version` of `summary.json` and `vectors.json`.
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// The blob as `$readmemh` 32-bit words (little-endian), one per line.
pub fn words_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() / 4 * 9 + 9);
    for w in bytes.chunks(4) {
        let mut b = [0u8; 4];
        b[..w.len()].copy_from_slice(w);
        s.push_str(&format!("{:08x}\n", u32::from_le_bytes(b)));
    }
    s
}

/// A `$readmemh` byte image: per section an `@<offset>` line (hex byte address) and 16 bytes
/// per line (the format of `objcopy -O verilog`).
pub fn bytes_hex(sections: &[(u32, &[u8])]) -> String {
    let mut s = String::new();
    for (off, data) in sections {
        s.push_str(&format!("@{off:08x}\n"));
        for line in data.chunks(16) {
            let l: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            s.push_str(&l.join(" "));
            s.push('\n');
        }
    }
    s
}

/// One array in `vectors.bin`.
#[derive(Clone, Debug, Serialize)]
pub struct Span {
    /// Byte offset in `vectors.bin`.
    pub offset: usize,
    /// Byte length.
    pub len: usize,
    /// `u8` or `i32le`.
    pub dtype: &'static str,
    /// `[h, w, c]`.
    pub shape: [usize; 3],
    /// SHA-256 of the bytes.
    pub sha256: String,
}

/// One golden vector.
#[derive(Clone, Debug, Serialize)]
pub struct Vector {
    /// Vector index.
    pub index: usize,
    /// Image path relative to the data directory.
    pub source: String,
    /// True label.
    pub label: usize,
    /// Class predicted by the integer model.
    pub class: usize,
    /// Raw i32 logits.
    pub logits: Vec<i32>,
    /// The input image.
    pub input: Span,
    /// Every layer's output, in order.
    pub layers: Vec<Span>,
}

#[derive(Serialize)]
struct VectorsIndex<'a> {
    format: &'static str,
    format_version: u32,
    blob_sha256: &'a str,
    classes: &'a [String],
    vectors: &'a [Vector],
}

#[derive(Serialize)]
struct LayerSummary {
    index: usize,
    kind: &'static str,
    n_in: usize,
    n_out: usize,
    k: Option<u8>,
    pool: bool,
    bits: Option<u8>,
    n2: Option<i8>,
    input: [usize; 3],
    output: [usize; 3],
    macs: u64,
}

#[derive(Serialize)]
struct FileSummary {
    name: String,
    bytes: usize,
    sha256: String,
}

#[derive(Serialize)]
struct Summary<'a> {
    format: &'static str,
    format_version: u32,
    blob_format_version: u16,
    blob_bytes: usize,
    blob_sha256: String,
    classes: &'a [String],
    input: [usize; 3],
    logit_scale: f32,
    arena_bytes: usize,
    layers: Vec<LayerSummary>,
    compression: Option<&'a super::Compression>,
    metrics_accuracy: Option<f64>,
    vectors: usize,
    files: Vec<FileSummary>,
}

/// Picks `n` images round-robin over the classes: vector `i` is image `i / k` (in path order)
/// of class `i % k`; classes that run out are skipped.
pub fn pick_vectors(ds: &Dataset, n: usize) -> Vec<usize> {
    let k = ds.classes.len();
    let per: Vec<Vec<usize>> = (0..k)
        .map(|c| (0..ds.len()).filter(|&i| ds.labels[i] == c).collect())
        .collect();
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < n && per.iter().any(|v| v.len() > round) {
        for v in &per {
            if out.len() < n {
                if let Some(&i) = v.get(round) {
                    out.push(i);
                }
            }
        }
        round += 1;
    }
    out
}

fn shape3(s: firmware::model::Shape) -> [usize; 3] {
    [s.h, s.w, s.c]
}

/// The export's files, in write order (the function behind [`export`], exposed for tests).
pub fn export_files(
    m: &IntModel,
    meta: Option<&QuantMeta>,
    vectors: Option<(&Dataset, &Path, usize)>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let blob = m.blob();
    if blob.len() > MODEL_MAX_LEN as usize {
        return Err(QModelError::Config(format!(
            "blob is {} bytes, the SoC holds at most {MODEL_MAX_LEN}",
            blob.len()
        )));
    }
    let model = m.model();
    // the SoC's windows (tighter than the reader's format-wide limits)
    let arena = runner::arena_bytes(&model);
    if arena > ARENA_LEN as usize {
        return Err(QModelError::Config(format!(
            "the model needs a {arena}-byte arena, the SoC has {ARENA_LEN}"
        )));
    }
    let input = model.input_shape().len();
    if input > INPUT_MAX_LEN as usize {
        return Err(QModelError::Config(format!(
            "the model's input is {input} bytes, the SoC holds at most {INPUT_MAX_LEN}"
        )));
    }
    let blob_sha = sha256_hex(blob);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (BLOB_FILE.into(), blob.to_vec()),
        ("model.hex".into(), words_hex(blob).into_bytes()),
    ];
    let mut bin = Vec::new();
    let mut vecs = Vec::new();
    if let Some((ds, root, n)) = vectors {
        ds.check_classes(m.classes())?;
        for (vi, i) in pick_vectors(ds, n).into_iter().enumerate() {
            let img = &ds.images[i];
            let mut obs = CaptureObserver::default();
            let out = m.run_observed(img, &mut obs, i)?;
            let mut span = |bytes: &[u8], dtype, shape| {
                let s = Span {
                    offset: bin.len(),
                    len: bytes.len(),
                    dtype,
                    shape,
                    sha256: sha256_hex(bytes),
                };
                bin.extend_from_slice(bytes);
                s
            };
            let input = span(img, "u8", shape3(model.input_shape()));
            let layers = obs
                .layers
                .iter()
                .map(|(info, bytes)| {
                    let dtype = if info.index + 1 == model.n_layers() {
                        "i32le"
                    } else {
                        "u8"
                    };
                    span(bytes, dtype, shape3(info.output))
                })
                .collect();
            let source = ds.paths[i]
                .strip_prefix(root)
                .unwrap_or(&ds.paths[i])
                .to_string_lossy()
                .replace('\\', "/");
            vecs.push(Vector {
                index: vi,
                source,
                label: ds.labels[i],
                class: out.class,
                logits: out.logits,
                input,
                layers,
            });
        }
    }
    // Flash image: the blob and vector 0's input where the boot code copies them from.
    let flash_off = FLASH_MODEL_OFFSET;
    let first_input = vecs
        .first()
        .map(|v| &bin[v.input.offset..v.input.offset + v.input.len]);
    let mut sections: Vec<(u32, &[u8])> = vec![(flash_off, blob)];
    if let Some(img) = first_input {
        sections.push((FLASH_INPUT_OFFSET, img));
    }
    files.push(("flash.hex".into(), bytes_hex(&sections).into_bytes()));
    let n_vec = vecs.len();
    if n_vec > 0 {
        let index = VectorsIndex {
            format: "cnnfpga-vectors",
            format_version: EXPORT_FORMAT_VERSION,
            blob_sha256: &blob_sha,
            classes: m.classes(),
            vectors: &vecs,
        };
        files.push(("vectors.bin".into(), bin));
        files.push(("vectors.json".into(), to_json(&index)?));
    }
    let layers = model
        .layers()
        .map(|l| {
            let (kind, n_in, n_out, k, pool, bits, n2) = match l.kind {
                LayerKind::Conv { k, cin, cout, pool } => {
                    ("conv", cin, cout, Some(k), pool, None, None)
                }
                LayerKind::Dense { n_in, n_out } => ("dense", n_in, n_out, None, false, None, None),
                LayerKind::DenseP {
                    n_in,
                    n_out,
                    bits,
                    n2,
                } => ("dense_p", n_in, n_out, None, false, Some(bits), Some(n2)),
            };
            LayerSummary {
                index: l.index,
                kind,
                n_in,
                n_out,
                k,
                pool,
                bits,
                n2,
                input: shape3(l.input),
                output: shape3(l.output),
                macs: l.macs(),
            }
        })
        .collect();
    let summary = Summary {
        format: EXPORT_FORMAT,
        format_version: EXPORT_FORMAT_VERSION,
        blob_format_version: firmware::model::VERSION,
        blob_bytes: blob.len(),
        blob_sha256: blob_sha.clone(),
        classes: m.classes(),
        input: shape3(model.input_shape()),
        logit_scale: model.logit_scale(),
        arena_bytes: runner::arena_bytes(&model),
        layers,
        compression: meta.map(|q| &q.compression),
        metrics_accuracy: meta
            .and_then(|q| q.metrics.as_ref())
            .map(|x| x.integer.accuracy),
        vectors: n_vec,
        files: files
            .iter()
            .map(|(n, b)| FileSummary {
                name: n.clone(),
                bytes: b.len(),
                sha256: sha256_hex(b),
            })
            .collect(),
    };
    files.push(("summary.json".into(), to_json(&summary)?));
    Ok(files)
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(v).map_err(|e| QModelError::Config(e.to_string()))?;
    s.push(b'\n');
    Ok(s)
}

/// Writes [`export_files`] into `out` atomically (the directory is replaced as a whole).
pub fn export(
    m: &IntModel,
    meta: Option<&QuantMeta>,
    vectors: Option<(&Dataset, &Path, usize)>,
    out: &Path,
) -> Result<Vec<(String, usize)>> {
    let files = export_files(m, meta, vectors)?;
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write_dir_atomic(out, &refs)?;
    Ok(files.iter().map(|(n, b)| (n.clone(), b.len())).collect())
}
